import fc from 'fast-check';
import { describe, it } from 'vitest';
import { parseGenerateBody } from '../../src/server/generateBody.ts';
import { FUZZ_TIMEOUT_MS, loadsOrRefuses, mutatedObject, RUNS } from './fuzzRuns.ts';

/** A body the page sends, with every field the parser reads. */
const VALID = {
  prompt: 'a purple dog and a green crown',
  negativePrompt: 'blurry',
  methods: ['sd', 'divide-bind'],
  seed: 7,
  steps: 3,
  guidanceScale: 7.5,
  scheduler: 'ddim',
  tokens: { objects: ['dog', 'crown'], attributes: ['purple', 'green'] },
};

describe("the studio's request body reader never crashes", { timeout: FUZZ_TIMEOUT_MS }, () => {
  it(`on any JSON value (${RUNS} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), (body) => loadsOrRefuses(() => parseGenerateBody(body))),
      { numRuns: RUNS },
    );
  });

  it(`on a valid body with fields removed, replaced or added (${RUNS} cases)`, async () => {
    await fc.assert(
      fc.asyncProperty(mutatedObject(VALID), (body) => loadsOrRefuses(() => parseGenerateBody(body))),
      { numRuns: RUNS },
    );
  });

  it(`on token specifications of any shape (${RUNS} cases)`, async () => {
    const tokens = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          objects: fc.array(fc.oneof(fc.string(), fc.integer(), fc.double()), { maxLength: 4 }),
          attributes: fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 4 }),
          tokenIndices: fc.array(fc.oneof(fc.integer(), fc.double(), fc.string()), { maxLength: 4 }),
          attributeIndices: fc.array(fc.oneof(fc.integer(), fc.double(), fc.string()), { maxLength: 4 }),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(tokens, (spec) => loadsOrRefuses(() => parseGenerateBody({ ...VALID, tokens: spec }))),
      { numRuns: RUNS },
    );
  });
});
