// diffusers' UNet2DConditionModel as a graph builder, with every attention layer's probabilities exposed.

export { type TextTimeInputs, textTimeEmbedding } from './additionEmbedding.ts';
export type {
  AttentionLayerInfo,
  AttentionPlace,
  AttentionRecord,
  MaterializeProbabilities,
} from './attention.ts';
export { parseUNetConfig, TEXT_TIME_IDS, type TextTimeAddition, type UNetConfig } from './config.ts';
export {
  type AddedConditioning,
  type LoadUNetOptions,
  loadUNet,
  type NoisePredictionShape,
  NoisePredictor,
  UNet2DConditionModel,
  type UNetDtype,
} from './model.ts';
export { timeEmbedding } from './timestepEmbedding.ts';
export { type UNetForwardOptions, type UNetInputs, type UNetOutput, unetForward } from './unet.ts';
