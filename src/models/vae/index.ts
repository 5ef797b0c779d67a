// AutoencoderKL decoder (diffusers 0.21.4) from a diffusers folder's vae/, and the image conversion.

export type { LoadModelOptions } from '../loadOptions.ts';
export {
  type AutoencoderKLConfig,
  parseAutoencoderKLConfig,
  type VaeActivation,
  vaeScaleFactor,
} from './config.ts';
export { type VaeDecodeOptions, vaeDecoder } from './decoder.ts';
export { imageToRgb8, type Rgb8Image } from './rgb.ts';
export {
  CompiledVaeDecoder,
  type CompileVaeDecoderOptions,
  loadVaeDecoder,
  VaeDecoder,
} from './vaeDecoder.ts';
