/** Downscaled copies of the run's images, so a report embeds them without growing to the images' full size. */
import sharp from 'sharp';

export interface Thumbnail {
  png: Buffer;
  width: number;
  height: number;
}

/** A PNG of the image fitted inside size × size (never enlarged), or null if the file cannot be read. */
export async function thumbnailPng(path: string, size: number): Promise<Thumbnail | null> {
  try {
    const { data, info } = await sharp(path)
      .resize(size, size, { fit: 'inside', withoutEnlargement: true, kernel: 'lanczos3' })
      .png({ compressionLevel: 9 })
      .toBuffer({ resolveWithObject: true });
    return { png: data, width: info.width, height: info.height };
  } catch {
    return null;
  }
}

export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}
