import type { Rgb8Image } from '../models/vae/index.ts';
import { rgbToPng } from '../sharpImages.ts';

/** The image as a PNG data URL, which the page can put straight into an <img>. */
export async function pngDataUrl(image: Rgb8Image): Promise<string> {
  return `data:image/png;base64,${(await rgbToPng(image)).toString('base64')}`;
}
