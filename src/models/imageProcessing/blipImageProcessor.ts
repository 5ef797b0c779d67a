/**
 * transformers' BlipImageProcessor (4.33): PIL bicubic resize to exactly `size` (an integer is a
 * square: 384 -> 384x384; the aspect ratio is not kept and nothing is cropped), then rescale by 1/255
 * and normalise with the mean/std (OpenAI CLIP's by default) to float32 `[3, H, W]`.
 */
import { resizeBicubic } from './pilBicubic.ts';
import { type PixelBatch, type PixelNormalization, stackPixelValues, toPixelValues } from './pixelValues.ts';
import { ConfigReader, type RawConfig, readPreprocessorConfig } from './preprocessorConfig.ts';
import type { RgbImage } from './rgbImage.ts';

export interface BlipPreprocessed {
  /** After the resize (the input itself when `do_resize` is false). */
  resized: RgbImage;
  /** `[3, height, width]` float32. */
  pixelValues: Float32Array;
  height: number;
  width: number;
}

export interface BlipImageProcessorSettings {
  doResize: boolean;
  size: { height: number; width: number };
  normalization: PixelNormalization;
}

export class BlipImageProcessor {
  constructor(readonly settings: BlipImageProcessorSettings) {}

  /** From a parsed `preprocessor_config.json`; `source` names it in errors. */
  static fromConfig(config: RawConfig, source: string): BlipImageProcessor {
    const reader = new ConfigReader(config, source);
    reader.bicubicResample();
    return new BlipImageProcessor({
      doResize: reader.boolean('do_resize', true),
      size: reader.heightWidth('size', { height: 384, width: 384 }),
      normalization: reader.normalization(),
    });
  }

  /** From the `preprocessor_config.json` of a model folder. */
  static async fromFolder(folder: string): Promise<BlipImageProcessor> {
    const reader = await readPreprocessorConfig(folder);
    return BlipImageProcessor.fromConfig(reader.config, reader.source);
  }

  preprocess(image: RgbImage): BlipPreprocessed {
    const { doResize, size, normalization } = this.settings;
    const resized = doResize ? resizeBicubic(image, size.width, size.height) : image;
    return {
      resized,
      pixelValues: toPixelValues(resized, normalization),
      height: resized.height,
      width: resized.width,
    };
  }

  /** Several images as one `[N, 3, H, W]` batch, in input order. */
  preprocessBatch(images: readonly RgbImage[]): PixelBatch {
    return stackPixelValues(images.map((image) => this.preprocess(image)));
  }
}
