// diffusers' UNet2DConditionModel as a graph builder, with every attention layer's probabilities exposed.
export type {
  AttentionLayerInfo,
  AttentionPlace,
  AttentionRecord,
  MaterializeProbabilities,
} from './attention.ts';
export { parseUNetConfig, type UNetConfig } from './config.ts';
export {
  type LoadUNetOptions,
  loadUNet,
  type NoisePredictionShape,
  NoisePredictor,
  UNet2DConditionModel,
  type UNetDtype,
} from './model.ts';
export { type UNetForwardOptions, type UNetInputs, type UNetOutput, unetForward } from './unet.ts';
