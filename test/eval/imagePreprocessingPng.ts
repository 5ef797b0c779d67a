import { crc32, deflateSync } from 'node:zlib';

/**
 * A minimal PNG encoder for the decoding tests: it writes exactly the colour type, bit depth, palette,
 * transparency and ICC profile asked for (sharp's encoder picks its own), so the expected RGB of PIL's
 * `convert("RGB")` can be derived from the samples written.
 */
export interface PngSpec {
  width: number;
  height: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA. */
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  /** Row-major samples, `channels` per pixel (palette: one index per pixel). */
  samples: number[];
  /** Palette entries [r, g, b]. */
  palette?: [number, number, number][];
  /** tRNS chunk: alpha per palette entry. */
  paletteAlpha?: number[];
  /** An embedded ICC profile (iCCP chunk). */
  iccProfile?: Uint8Array;
  /** A gAMA chunk: the file's gamma (e.g. 1 for linear samples). */
  gamma?: number;
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const body = Buffer.concat([head.subarray(4), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([head.subarray(0, 4), body, crc]);
}

/** One scanline of packed samples (filter type 0 in front). */
function scanline(samples: number[], bitDepth: number): Buffer {
  if (bitDepth === 16) {
    const row = Buffer.alloc(1 + samples.length * 2);
    for (const [i, s] of samples.entries()) row.writeUInt16BE(s, 1 + i * 2);
    return row;
  }
  if (bitDepth === 8) return Buffer.from([0, ...samples]);
  const perByte = 8 / bitDepth;
  const row = Buffer.alloc(1 + Math.ceil(samples.length / perByte));
  for (const [i, s] of samples.entries())
    row[1 + Math.floor(i / perByte)] |= s << (8 - bitDepth * (1 + (i % perByte)));
  return row;
}

export function encodePng(spec: PngSpec): Buffer {
  const { width, height, colorType, bitDepth, samples } = spec;
  const perRow = width * CHANNELS[colorType];
  if (samples.length !== perRow * height) throw new Error('encodePng: wrong number of samples');
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, colorType, 0, 0, 0], 8);
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) rows.push(scanline(samples.slice(y * perRow, (y + 1) * perRow), bitDepth));
  const chunks = [chunk('IHDR', ihdr)];
  if (spec.iccProfile) {
    const name = Buffer.from('test profile\0\0', 'latin1');
    chunks.push(chunk('iCCP', Buffer.concat([name, deflateSync(spec.iccProfile)])));
  }
  if (spec.gamma !== undefined) {
    const gama = Buffer.alloc(4);
    gama.writeUInt32BE(Math.round(spec.gamma * 100000), 0);
    chunks.push(chunk('gAMA', gama));
  }
  if (spec.palette) chunks.push(chunk('PLTE', Buffer.from(spec.palette.flat())));
  if (spec.paletteAlpha) chunks.push(chunk('tRNS', Buffer.from(spec.paletteAlpha)));
  chunks.push(chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks]);
}
