/**
 * transformers' CLIPImageProcessor (4.33; also the legacy CLIPFeatureExtractor config of the openai
 * repos), step by step as its `preprocess` runs them:
 *   1. resize (PIL bicubic on uint8): `{"shortest_edge": S}` scales the short side to S and the long
 *      side to int(S * long / short) (floor: 80x60 -> 64x48); `{"height", "width"}` resizes to exactly that;
 *   2. center crop to `crop_size` with floor offsets (centerCrop.ts);
 *   3. rescale by 1/255 and normalise with the mean/std, to float32 `[3, H, W]` (pixelValues.ts).
 */
import { centerCrop } from './centerCrop.ts';
import { resizeBicubic } from './pilBicubic.ts';
import { type PixelBatch, type PixelNormalization, stackPixelValues, toPixelValues } from './pixelValues.ts';
import {
  ConfigReader,
  type ImageSize,
  type RawConfig,
  readPreprocessorConfig,
} from './preprocessorConfig.ts';
import type { RgbImage } from './rgbImage.ts';

export interface ClipPreprocessed {
  /** After step 1 (the input itself when `do_resize` is false). */
  resized: RgbImage;
  /** After step 2 (= `resized` when `do_center_crop` is false). */
  cropped: RgbImage;
  /** `[3, height, width]` float32. */
  pixelValues: Float32Array;
  height: number;
  width: number;
}

export interface ClipImageProcessorSettings {
  doResize: boolean;
  size: ImageSize;
  doCenterCrop: boolean;
  cropSize: { height: number; width: number };
  normalization: PixelNormalization;
}

/** The output size of a shortest-edge resize, as transformers' `get_resize_output_image_size`. */
export function shortestEdgeSize(
  width: number,
  height: number,
  shortestEdge: number,
): { width: number; height: number } {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  // Python's int(S * long / short): a float division, then truncation.
  const newLong = Math.trunc((shortestEdge * long) / short);
  return width <= height
    ? { width: shortestEdge, height: newLong }
    : { width: newLong, height: shortestEdge };
}

export class ClipImageProcessor {
  constructor(readonly settings: ClipImageProcessorSettings) {}

  /** From a parsed `preprocessor_config.json`; `source` names it in errors. */
  static fromConfig(config: RawConfig, source: string): ClipImageProcessor {
    const reader = new ConfigReader(config, source);
    reader.bicubicResample();
    return new ClipImageProcessor({
      doResize: reader.boolean('do_resize', true),
      size: reader.size('size', { shortestEdge: 224 }, 'shortestEdge'),
      doCenterCrop: reader.boolean('do_center_crop', true),
      cropSize: reader.heightWidth('crop_size', { height: 224, width: 224 }),
      normalization: reader.normalization(),
    });
  }

  /** From the `preprocessor_config.json` of a model folder. */
  static async fromFolder(folder: string): Promise<ClipImageProcessor> {
    const reader = await readPreprocessorConfig(folder);
    return ClipImageProcessor.fromConfig(reader.config, reader.source);
  }

  preprocess(image: RgbImage): ClipPreprocessed {
    const { doResize, size, doCenterCrop, cropSize, normalization } = this.settings;
    let resized = image;
    if (doResize) {
      const target =
        'shortestEdge' in size ? shortestEdgeSize(image.width, image.height, size.shortestEdge) : size;
      resized = resizeBicubic(image, target.width, target.height);
    }
    const cropped = doCenterCrop ? centerCrop(resized, cropSize.height, cropSize.width) : resized;
    return {
      resized,
      cropped,
      pixelValues: toPixelValues(cropped, normalization),
      height: cropped.height,
      width: cropped.width,
    };
  }

  /** Several images as one `[N, 3, H, W]` batch, in input order. */
  preprocessBatch(images: readonly RgbImage[]): PixelBatch {
    return stackPixelValues(images.map((image) => this.preprocess(image)));
  }
}
