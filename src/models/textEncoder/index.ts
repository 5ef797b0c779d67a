// CLIP text encoder (transformers' CLIPTextModel) from a diffusers folder's text_encoder/.

export type { LoadModelOptions } from '../loadOptions.ts';
export { clipTextModel } from './clipTextModel.ts';
export { CLIP_ACTIVATIONS, type ClipActivation, type ClipTextConfig, parseClipTextConfig } from './config.ts';
export {
  CompiledTextEncoder,
  type CompileTextEncoderOptions,
  loadTextEncoder,
  TextEncoder,
} from './textEncoder.ts';
