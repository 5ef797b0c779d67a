/**
 * transformers' `center_crop` (image_transforms.py, 4.33) on an RGB image:
 *   top = (h - crop_h) // 2, left = (w - crop_w) // 2   (floor division: 51 -> 48 starts at left 1;
 *   torchvision's CenterCrop, used by openai-clip and clipscore, rounds instead).
 * A crop larger than the image pads it with zeros first: the image sits at ((H - h) // 2, (W - w) // 2)
 * of a max(h, crop_h) x max(w, crop_w) canvas and the window [top + pad, top + pad + crop) is clipped to
 * the canvas. As in transformers, an odd shortfall therefore gives one row (column) less than asked.
 */
import type { RgbImage } from './rgbImage.ts';

/** Python's `//` for integers. */
const floorDiv = (a: number, b: number) => Math.floor(a / b);

/** One axis: output index i reads image index `start + i` (zero outside the image), `length` outputs. */
function axisWindow(size: number, crop: number): { start: number; length: number } {
  const canvas = Math.max(size, crop);
  const pad = floorDiv(canvas - size, 2);
  const from = Math.max(0, floorDiv(size - crop, 2) + pad);
  const to = Math.min(canvas, floorDiv(size - crop, 2) + pad + crop);
  // Output covers canvas [from, to); the image covers canvas [pad, pad + size).
  return { start: from - pad, length: to - from };
}

export function centerCrop(image: RgbImage, cropHeight: number, cropWidth: number): RgbImage {
  const rows = axisWindow(image.height, cropHeight);
  const cols = axisWindow(image.width, cropWidth);
  const out = new Uint8Array(rows.length * cols.length * 3);
  for (let y = 0; y < rows.length; y++) {
    const sy = y + rows.start;
    if (sy < 0 || sy >= image.height) continue;
    for (let x = 0; x < cols.length; x++) {
      const sx = x + cols.start;
      if (sx < 0 || sx >= image.width) continue;
      const from = (sy * image.width + sx) * 3;
      out.set(image.data.subarray(from, from + 3), (y * cols.length + x) * 3);
    }
  }
  return { width: cols.length, height: rows.length, data: out };
}
