import { UserError } from '../errors.ts';
import { crc32 } from './crc32.ts';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A keyword/text pair, as PNG text chunks and image viewers show them. */
export interface PngText {
  readonly keyword: string;
  readonly text: string;
}

/**
 * Adds text chunks right after IHDR (where PIL and A1111 put them, so readers that stop at the first IDAT
 * find them). ASCII text goes into tEXt; anything else into an uncompressed UTF-8 iTXt. (PIL puts all Latin-1 in
 * tEXt, but several readers, libvips and so sharp among them, decode tEXt as UTF-8 and garble "café".)
 */
export function addPngTextChunks(png: Uint8Array, texts: readonly PngText[]): Buffer {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (!bytes.subarray(0, 8).equals(SIGNATURE)) throw new UserError('not a PNG: the signature is missing');
  const ihdrEnd = 8 + 12 + bytes.readUInt32BE(8);
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') throw new UserError('not a PNG: IHDR is not first');
  const chunks = texts.map(textChunk);
  return Buffer.concat([bytes.subarray(0, ihdrEnd), ...chunks, bytes.subarray(ihdrEnd)]);
}

/** Every tEXt and iTXt chunk of a PNG, in file order (for tests and for reading parameters back). */
export function readPngTextChunks(png: Uint8Array): PngText[] {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const texts: PngText[] = [];
  for (let at = 8; at + 12 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + length);
    const nul = data.indexOf(0);
    if (type === 'tEXt' && nul > 0) {
      texts.push({ keyword: data.toString('latin1', 0, nul), text: data.toString('latin1', nul + 1) });
    } else if (type === 'iTXt' && nul > 0 && data[nul + 1] === 0) {
      // keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
      const language = data.indexOf(0, nul + 3);
      const translated = data.indexOf(0, language + 1);
      texts.push({ keyword: data.toString('latin1', 0, nul), text: data.toString('utf8', translated + 1) });
    }
    at += 12 + length;
  }
  return texts;
}

function textChunk({ keyword, text }: PngText): Buffer {
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || keyword !== keyword.trim()) {
    throw new RangeError(`invalid PNG text keyword ${JSON.stringify(keyword)}`);
  }
  const isAscii = [...text].every((c) => c !== '\0' && c.charCodeAt(0) < 0x80);
  const data = isAscii
    ? Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.of(0), Buffer.from(text, 'latin1')])
    : Buffer.concat([
        Buffer.from(keyword, 'latin1'),
        Buffer.of(0, 0, 0), // keyword terminator, not compressed, compression method
        Buffer.of(0, 0), // empty language tag and translated keyword
        Buffer.from(text, 'utf8'),
      ]);
  return chunk(isAscii ? 'tEXt' : 'iTXt', data);
}

/** length, type, data, CRC-32 of type and data. */
function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
