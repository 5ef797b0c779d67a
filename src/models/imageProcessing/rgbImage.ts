/**
 * An 8-bit RGB image as PIL's `image.convert("RGB")` gives it, decoded with sharp (libvips).
 *
 * PIL's conversion, which the Hugging Face image processors apply first (`convert_rgb`):
 *   - RGBA / LA: alpha dropped, no compositing (a transparent pixel keeps its colour);
 *   - L (grayscale): the gray value in all three channels; P (palette): the palette colour;
 *   - 16-bit PNGs (Pillow 9.4, which the goldens were made with): RGB(A) keep the high byte of each
 *     sample, gray+alpha likewise, but plain 16-bit gray opens as mode "I" and `convert("RGB")` clips
 *     it to 0..255 (so most of such an image turns white).
 * sharp is asked for the decoded samples as they are: embedded ICC profiles ignored (PIL does not
 * apply them), gray kept as one band (replicated here), alpha never premultiplied (raw output is
 * straight alpha). CMYK images and 16-bit images other than PNG are refused: PIL's conversions for
 * them are not reproduced here.
 */
import { readFile } from 'node:fs/promises';
import type { Metadata, OutputInfo } from 'sharp';
import { UserError } from '../../errors.ts';
import { loadSharp } from '../../sharpImages.ts';

export interface RgbImage {
  width: number;
  height: number;
  /** Row-major, interleaved RGB (HWC), `width * height * 3` bytes. */
  data: Uint8Array;
}

/** The colour spaces whose samples PIL reads as they are (anything else would need a colour conversion). */
const DECODED_SPACES = new Set<string>(['srgb', 'rgb16', 'b-w', 'grey16']);

/** Reads and decodes an image file (PNG, JPEG, WebP, GIF, TIFF, ...) into RGB as PIL would. */
export async function loadRgbImage(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new UserError(`Cannot read the image ${path}: ${(error as Error).message}`);
  }
  return decodeRgbImage(bytes, path);
}

/** Decodes image bytes; `label` names them (a file path) in error messages. */
export async function decodeRgbImage(bytes: Uint8Array, label: string): Promise<RgbImage> {
  if (bytes.length === 0) throw new UserError(`${label} is empty, not an image`);
  const sharp = await loadSharp();
  const input = () => sharp(bytes, { ignoreIcc: true, failOn: 'error' });
  let metadata: Metadata;
  try {
    metadata = await input().metadata();
  } catch (error) {
    throw new UserError(`${label} is not an image that can be decoded (${(error as Error).message})`);
  }
  const { width, height, space, depth, format } = metadata;
  if (!width || !height) throw new UserError(`${label} has no pixels`);
  if (space === 'cmyk') {
    throw new UserError(`${label} is a CMYK image, which is not supported: convert it to RGB first`);
  }
  if (!DECODED_SPACES.has(space)) {
    throw new UserError(
      `${label} is in the ${space} colour space, which is not supported: convert it to RGB first`,
    );
  }
  const sixteenBit = depth === 'ushort';
  if (sixteenBit && format !== 'png') {
    throw new UserError(
      `${label} is a 16-bit ${format} image, which is not supported: convert it to 8-bit RGB (or 16-bit PNG) first`,
    );
  }
  if (depth !== 'uchar' && !sixteenBit) {
    throw new UserError(
      `${label} has ${depth} samples, which are not supported: convert it to 8-bit RGB first`,
    );
  }

  const gray = space === 'b-w' || space === 'grey16';
  const colourspace = sixteenBit ? (gray ? 'grey16' : 'rgb16') : gray ? 'b-w' : 'srgb';
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await input()
      .toColourspace(colourspace)
      .raw({ depth: sixteenBit ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new UserError(`${label} could not be decoded (${(error as Error).message})`);
  }
  const { channels } = raw.info;
  const samples = sixteenBit
    ? new Uint16Array(new Uint8Array(raw.data).buffer) // a copy: a view needs an even byte offset
    : new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
  const colourBands = gray ? 1 : 3;
  if (channels !== colourBands && channels !== colourBands + 1) {
    throw new UserError(
      `${label} decoded to ${channels} channels, expected ${colourBands} or ${colourBands + 1}`,
    );
  }
  const toByte = pilSampleToByte(sixteenBit, gray, channels > colourBands);

  const pixels = width * height;
  const data = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const at = p * channels;
    for (let c = 0; c < 3; c++) data[p * 3 + c] = toByte(samples[at + (gray ? 0 : c)]!);
  }
  return { width, height, data };
}

/** How PIL turns one decoded sample into an RGB byte (see the file comment). */
function pilSampleToByte(sixteenBit: boolean, gray: boolean, hasAlpha: boolean): (sample: number) => number {
  if (!sixteenBit) return (sample) => sample;
  // Pillow 9.4 opens 16-bit gray PNGs as mode "I" (i2rgb clips), the other 16-bit PNGs through ";16B" unpackers.
  if (gray && !hasAlpha) return (sample) => Math.min(sample, 255);
  return (sample) => sample >> 8;
}
