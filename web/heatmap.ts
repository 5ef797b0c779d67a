/** Draws one token's attention map [r, r] as a heatmap over the generated image. */
import { inferno } from './colormap.ts';

export interface HeatmapOptions {
  /** The generated image, drawn underneath; null for the map alone. */
  image: HTMLImageElement | null;
  /** Heatmap opacity over the image. */
  opacity: number;
}

/**
 * `maps` holds k maps [k, r, r] row-major; map `k` is drawn. Each map is scaled to its own maximum, as the
 * papers show them: the maximum itself is printed beside the map.
 */
export function drawHeatmap(
  canvas: HTMLCanvasElement,
  maps: readonly number[],
  k: number,
  r: number,
  options: HeatmapOptions,
): void {
  const offset = k * r * r;
  let max = 0;
  for (let i = 0; i < r * r; i++) max = Math.max(max, maps[offset + i]);
  const small = document.createElement('canvas');
  small.width = r;
  small.height = r;
  const smallContext = small.getContext('2d')!;
  const pixels = smallContext.createImageData(r, r);
  for (let i = 0; i < r * r; i++) {
    const [red, green, blue] = inferno(max > 0 ? maps[offset + i] / max : 0);
    pixels.data.set([red, green, blue, 255], i * 4);
  }
  smallContext.putImageData(pixels, 0, 0);

  const context = canvas.getContext('2d')!;
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (options.image?.complete) {
    context.imageSmoothingEnabled = true;
    context.globalAlpha = 1;
    context.drawImage(options.image, 0, 0, canvas.width, canvas.height);
  }
  // Bilinear upsampling, like the smooth maps in the papers' figures.
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.globalAlpha = options.image ? options.opacity : 1;
  context.drawImage(small, 0, 0, canvas.width, canvas.height);
  context.globalAlpha = 1;
}
