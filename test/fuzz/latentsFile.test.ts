import { rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLatents, writeLatents } from '../../src/cli/latentsFile.ts';
import { writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { FUZZ_TIMEOUT_MS, loadsOrRefuses, mutatedBytes, RUNS } from './fuzzRuns.ts';

describe('the latents file reader never crashes', { timeout: FUZZ_TIMEOUT_MS }, () => {
  const dir = tempDir('dnb-fuzz-latents-');
  let valid: Uint8Array;
  let n = 0;
  /** Each case gets its own file: readLatents reads from disk, as `--latents` does. */
  const readBytes = async (bytes: Uint8Array) => {
    const path = join(dir, `case-${n++}.safetensors`);
    writeFileSync(path, bytes);
    try {
      await loadsOrRefuses(() => readLatents(path));
    } finally {
      unlinkSync(path); // a long run writes 100k of them
    }
  };

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    const path = join(dir, 'valid.safetensors');
    await writeLatents(path, { data: new Float32Array(2 * 4 * 2 * 2).fill(0.5), shape: [2, 4, 2, 2] }, {});
    valid = new Uint8Array(await readFile(path));
  });

  it(`on a valid latents file with bytes changed, inserted or cut (${RUNS} cases)`, async () => {
    await fc.assert(fc.asyncProperty(mutatedBytes(valid), readBytes), { numRuns: RUNS });
  });

  it(`on random bytes (${RUNS} cases)`, async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), readBytes), { numRuns: RUNS });
  });

  it(`on any safetensors header JSON over a small data section (${RUNS} cases)`, async () => {
    const header = fc.oneof(
      fc.json(),
      fc
        .record({
          dtype: fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'U8', 'F64', 'X'),
          shape: fc.array(fc.oneof(fc.nat(5), fc.integer()), { maxLength: 5 }),
          data_offsets: fc.tuple(fc.nat(80), fc.nat(80)),
        })
        .map((latents) => JSON.stringify({ latents })),
    );
    await fc.assert(
      fc.asyncProperty(header, fc.nat(80), (json, dataBytes) => {
        const text = Buffer.from(json);
        const prefix = Buffer.alloc(8);
        prefix.writeBigUInt64LE(BigInt(text.length));
        return readBytes(new Uint8Array(Buffer.concat([prefix, text, Buffer.alloc(dataBytes)])));
      }),
      { numRuns: RUNS },
    );
  });

  // Found by a 2,000-case run: a backslash inserted before the "n" of "latents" names the tensor "late\nts",
  // and the message listed the names unescaped, over two lines.
  it('names a tensor whose name holds a newline on one line', async () => {
    const path = join(dir, 'newline-name.safetensors');
    await writeSafetensors(path, { 'late\nts': { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, {});
    await expect(readLatents(path)).rejects.toThrow(/has no tensor named "latents" \(it has "late\\nts"\)$/);
    await loadsOrRefuses(() => readLatents(path));
  });
});
