import { loadSharp } from '../loadSharp.ts';
import type { Rgb8Image } from '../models/vae/index.ts';

/** The image as a PNG data URL, which the page can put straight into an <img>. */
export async function pngDataUrl(image: Rgb8Image): Promise<string> {
  const sharp = await loadSharp();
  const png = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}
