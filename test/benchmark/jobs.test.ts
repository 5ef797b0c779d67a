import { describe, expect, it } from 'vitest';
import { promptTokens } from '../../src/benchmark/jobs.ts';
import type { BenchmarkPrompt } from '../../src/benchmark/promptSet.ts';

const prompt = (fields: Partial<BenchmarkPrompt>): BenchmarkPrompt => ({
  id: 'p',
  text: 'a black cat and a red suitcase',
  objects: [],
  attributes: [],
  ...fields,
});

describe('promptTokens', () => {
  it('takes given token indices as they are', () => {
    expect(promptTokens(prompt({ tokenIndices: [3, 7], attributeIndices: [2, 6] }))).toEqual({
      tokenIndices: [3, 7],
      attributeIndices: [2, 6],
    });
  });

  it("pairs each object with the attribute that modifies it, '-' for none", () => {
    const structured = prompt({
      objects: [
        { word: 'cat', count: 1 },
        { word: 'suitcase', count: 1 },
      ],
      attributes: [{ word: 'red', object: 1 }],
    });
    expect(promptTokens(structured)).toEqual({ objects: ['cat', 'suitcase'], attributes: ['-', 'red'] });
  });

  it('leaves a prompt without structure (TIFA v1.0) to the automatic selection', () => {
    expect(promptTokens(prompt({ text: 'a man riding a horse on a beach' }))).toBeUndefined();
  });
});
