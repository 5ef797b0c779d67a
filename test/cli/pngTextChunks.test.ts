import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/cli/crc32.ts';
import { addPngTextChunks, readPngTextChunks } from '../../src/cli/pngTextChunks.ts';

async function tinyPng(): Promise<Buffer> {
  return sharp(Buffer.alloc(2 * 2 * 3, 200), { raw: { width: 2, height: 2, channels: 3 } })
    .png()
    .toBuffer();
}

/** Every chunk's type, checking its CRC on the way. */
function chunkTypes(png: Buffer): string[] {
  const types: string[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    expect(png.readUInt32BE(at + 8 + length)).toBe(crc32(png.subarray(at + 4, at + 8 + length)));
    types.push(png.toString('latin1', at + 4, at + 8));
    at += 12 + length;
  }
  return types;
}

describe('crc32', () => {
  it('gives the standard check value and the empty string’s', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
  });
});

describe('PNG text chunks', () => {
  it('go right after IHDR with valid CRCs, and the image still decodes', async () => {
    const png = addPngTextChunks(await tinyPng(), [
      { keyword: 'parameters', text: 'a dog\nSteps: 50' },
      { keyword: 'dnb', text: '{"seed":1}' },
    ]);
    expect(chunkTypes(png).slice(0, 3)).toEqual(['IHDR', 'tEXt', 'tEXt']);
    const { info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([2, 2]);
    expect(readPngTextChunks(png)).toEqual([
      { keyword: 'parameters', text: 'a dog\nSteps: 50' },
      { keyword: 'dnb', text: '{"seed":1}' },
    ]);
  });

  it('keep ASCII text in tEXt and put other text in UTF-8 iTXt, which sharp reads back', async () => {
    const texts = ['a dog', 'un café', '一只紫色的狗 🐕'];
    const png = addPngTextChunks(
      await tinyPng(),
      texts.map((text) => ({ keyword: 'parameters', text })),
    );
    expect(chunkTypes(png).slice(1, 4)).toEqual(['tEXt', 'iTXt', 'iTXt']);
    expect(readPngTextChunks(png).map((t) => t.text)).toEqual(texts);
    const metadata = await sharp(png).metadata();
    expect(metadata.comments?.map((c) => c.text)).toEqual(texts);
  });

  it('refuse keywords PNG does not allow', async () => {
    const png = await tinyPng();
    expect(() => addPngTextChunks(png, [{ keyword: '', text: 'x' }])).toThrow(/keyword/);
    expect(() => addPngTextChunks(png, [{ keyword: 'k'.repeat(80), text: 'x' }])).toThrow(/keyword/);
  });
});
