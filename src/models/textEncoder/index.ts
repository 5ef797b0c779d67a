// CLIP text encoders (transformers' CLIPTextModel, CLIPTextModelWithProjection) from a diffusers folder's
// text_encoder/ (and SDXL's text_encoder_2/).

export type { LoadModelOptions } from '../loadOptions.ts';
export { type ClipTextHiddenStates, clipTextHiddenStates, clipTextModel } from './clipTextModel.ts';
export {
  CLIP_ACTIVATIONS,
  type ClipActivation,
  type ClipTextConfig,
  parseClipTextConfig,
  parseTextEncoderConfig,
  TEXT_ENCODER_CLASSES,
  type TextEncoderClass,
  type TextEncoderConfig,
} from './config.ts';
export { pooledAt, textProjection } from './textEmbeds.ts';
export {
  CompiledTextEncoder,
  type CompileTextEncoderOptions,
  type LoadTextEncoderOptions,
  loadTextEncoder,
  TEXT_ENCODER_OUTPUTS,
  TextEncoder,
  type TextEncoderOutput,
} from './textEncoder.ts';
