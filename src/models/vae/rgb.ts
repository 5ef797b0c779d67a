import { UserError } from '../../errors.ts';
import type { HostTensor } from '../../runtime/session.ts';

/** An 8-bit RGB image, rows top to bottom, 3 bytes per pixel. */
export interface Rgb8Image {
  width: number;
  height: number;
  data: Uint8Array;
}

const { fround } = Math;

/** numpy's `round` (half to even) of a float32 value. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The decoder's raw image [B, 3, H, W] as 8-bit RGB images, as diffusers' image processor does it:
 * clamp(x/2 + 0.5, 0, 1) in float32 (torch), then `(x * 255).round().astype("uint8")` in float32 numpy
 * (`numpy_to_pil`; round half to even).
 */
export function imageToRgb8(image: HostTensor): Rgb8Image[] {
  const [batch, channels, height, width] = image.shape;
  if (image.shape.length !== 4 || channels !== 3 || !(image.data instanceof Float32Array)) {
    throw new UserError(`an RGB image tensor is [batch, 3, height, width] float32, got [${image.shape}]`);
  }
  const src = image.data;
  const plane = height * width;
  const images: Rgb8Image[] = [];
  for (let b = 0; b < batch; b++) {
    const data = new Uint8Array(plane * 3);
    for (let c = 0; c < 3; c++) {
      const base = (b * 3 + c) * plane;
      for (let i = 0; i < plane; i++) {
        const x = Math.min(1, Math.max(0, fround(fround(src[base + i] / 2) + 0.5)));
        data[i * 3 + c] = roundHalfEven(fround(x * 255));
      }
    }
    images.push({ width, height, data });
  }
  return images;
}
