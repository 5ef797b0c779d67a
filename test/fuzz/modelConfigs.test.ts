import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { parseClipTextConfig } from '../../src/models/textEncoder/config.ts';
import { parseUNetConfig } from '../../src/models/unet/config.ts';
import { parseAutoencoderKLConfig } from '../../src/models/vae/config.ts';
import { parsePythonJson } from '../../src/weights/pythonJson.ts';
import { TINY_SD } from '../helpers/fixtures.ts';
import { FUZZ_TIMEOUT_MS, loadsOrRefuses, mutatedObject, RUNS } from './fuzzRuns.ts';

const PARSERS = {
  unet: parseUNetConfig,
  vae: parseAutoencoderKLConfig,
  text_encoder: parseClipTextConfig,
} as const;

describe('the config.json readers never crash', { timeout: FUZZ_TIMEOUT_MS }, () => {
  for (const [component, parse] of Object.entries(PARSERS)) {
    const path = join(TINY_SD, component, 'config.json');
    const base = parsePythonJson(readFileSync(path, 'utf8')) as Record<string, unknown>;

    it(`${component}: the tiny model's config with keys removed, replaced or added (${RUNS} cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(mutatedObject(base), (raw) => loadsOrRefuses(() => parse(path, raw))),
        { numRuns: RUNS },
      );
    });

    it(`${component}: any JSON object (${RUNS} cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.dictionary(fc.constantFrom(...Object.keys(base), 'x'), fc.jsonValue()), (raw) =>
          loadsOrRefuses(() => parse(path, raw)),
        ),
        { numRuns: RUNS },
      );
    });
  }
});
