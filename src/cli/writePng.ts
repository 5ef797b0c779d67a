import type { Rgb8Image } from '../models/vae/index.ts';
import { rgbToPng } from '../sharpImages.ts';
import { writeFileAtomically } from '../weights/atomicFile.ts';
import { addPngTextChunks, type PngText } from './pngTextChunks.ts';

/** Encodes an RGB image as PNG with the given text chunks. */
export async function encodePng(image: Rgb8Image, texts: readonly PngText[]): Promise<Buffer> {
  return addPngTextChunks(await rgbToPng(image), texts);
}

/** Encodes an RGB image as PNG with the given text chunks and writes it atomically. */
export async function writePng(
  path: string,
  image: Rgb8Image,
  texts: readonly PngText[],
  options: { overwrite?: boolean },
): Promise<void> {
  const withText = await encodePng(image, texts);
  await writeFileAtomically(path, (handle) => handle.writeFile(withText), options);
}
