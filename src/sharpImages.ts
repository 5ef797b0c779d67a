import type sharp from 'sharp';
import type { Rgb8Image } from './models/vae/index.ts';

/**
 * sharp (libvips), imported on first use: loading its native module takes ~0.23 s, which every `dnb` command
 * would otherwise pay at start-up, a generation before its first step included (test/cli/startupImports.test.ts).
 */
export async function loadSharp(): Promise<typeof sharp> {
  return (await import('sharp')).default;
}

/** An RGB image as plain PNG bytes (no text chunks): what files, the studio and the benchmark store all start from. */
export async function rgbToPng(image: Rgb8Image): Promise<Buffer> {
  const encoder = await loadSharp();
  return encoder(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
}
