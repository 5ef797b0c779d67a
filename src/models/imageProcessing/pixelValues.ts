/**
 * The last step of the Hugging Face image processors: uint8 HWC -> float32 CHW, rescaled and
 * normalised exactly as transformers 4.33 computes it with NumPy:
 *   x = float32(uint8 * rescale_factor)      (the product in float64, `rescale(..., dtype=float32)`)
 *   pixel = (x - float32(mean[c])) / float32(std[c])   (float32 arithmetic, `normalize`)
 * Each float32 operation is one double operation rounded with Math.fround, which gives the correctly
 * rounded float32 result for + - * /, so the values are bit-identical to NumPy's.
 */
import { UserError } from '../../errors.ts';
import type { RgbImage } from './rgbImage.ts';

export interface PixelNormalization {
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** `[3, H, W]` float32 pixel values of an RGB image. */
export function toPixelValues(image: RgbImage, settings: PixelNormalization): Float32Array {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const mean = settings.mean.map(Math.fround);
  const std = settings.std.map(Math.fround);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const byte = data[p * 3 + c];
      let x = settings.doRescale ? Math.fround(byte * settings.rescaleFactor) : byte;
      if (settings.doNormalize) x = Math.fround(Math.fround(x - mean[c]) / std[c]);
      out[c * plane + p] = x;
    }
  }
  return out;
}

/** A batch of pixel values, `[N, 3, H, W]` in input order. */
export interface PixelBatch {
  pixelValues: Float32Array;
  shape: [number, number, number, number];
}

/** Stacks per-image `[3, H, W]` pixel values into `[N, 3, H, W]`; every image must have the same size. */
export function stackPixelValues(
  images: readonly { pixelValues: Float32Array; height: number; width: number }[],
): PixelBatch {
  if (images.length === 0) throw new UserError('Cannot make a batch of no images: pass at least one');
  const { height, width } = images[0];
  for (const [index, image] of images.entries()) {
    if (image.height !== height || image.width !== width) {
      throw new UserError(
        `Image ${index} is ${image.width}x${image.height} after preprocessing, but image 0 is ${width}x${height}: ` +
          'a batch needs one size (check crop_size / size in preprocessor_config.json)',
      );
    }
  }
  const plane = 3 * height * width;
  const pixelValues = new Float32Array(images.length * plane);
  for (const [index, image] of images.entries()) pixelValues.set(image.pixelValues, index * plane);
  return { pixelValues, shape: [images.length, 3, height, width] };
}
