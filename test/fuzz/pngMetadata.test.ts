import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { addPngTextChunks, readPngTextChunks } from '../../src/cli/pngTextChunks.ts';
import { GOLDEN } from '../helpers/fixtures.ts';
import { FUZZ_TIMEOUT_MS, loadsOrRefuses, mutatedBytes, RUNS } from './fuzzRuns.ts';

/** A real PNG (a golden image, cut after its first chunks to keep cases small) with text chunks added. */
function pngWithText(): Uint8Array {
  const png = readFileSync(join(GOLDEN, 'cat_frog_sd.png'));
  const tagged = addPngTextChunks(png, [
    { keyword: 'parameters', text: 'a cat\nSteps: 50, Seed: 1' },
    { keyword: 'dnb', text: '{"prompt":"café"}' },
  ]);
  return new Uint8Array(tagged.subarray(0, 400));
}

describe('the PNG text chunk reader never crashes', { timeout: FUZZ_TIMEOUT_MS }, () => {
  const valid = pngWithText();

  it(`on a PNG with text chunks, bytes changed, inserted or cut (${RUNS} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(mutatedBytes(valid), (bytes) => loadsOrRefuses(() => readPngTextChunks(bytes))),
      { numRuns: RUNS },
    );
  });

  it(`on random bytes after the PNG signature (${RUNS} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), (tail) =>
        loadsOrRefuses(() => readPngTextChunks(Uint8Array.from([...valid.subarray(0, 8), ...tail]))),
      ),
      { numRuns: RUNS },
    );
  });

  it(`on random bytes (${RUNS} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), (bytes) =>
        loadsOrRefuses(() => readPngTextChunks(bytes)),
      ),
      { numRuns: RUNS },
    );
  });
});
