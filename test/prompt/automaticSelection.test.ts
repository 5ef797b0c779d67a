import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { selectTokens } from '../../src/prompt/index.ts';
import { sd15Tokenizer } from '../tokenizer/fixtures.ts';

interface AePrompts {
  animals: string[];
  animals_objects: string[];
  objects: string[];
}

const AE_PROMPTS = JSON.parse(
  readFileSync(new URL('../fixtures/prompts/ae_prompts.json', import.meta.url), 'utf8'),
) as AePrompts;

/** The choice as [object token, attribute token or "-"] texts and indices, for readable failures. */
function automatic(prompt: string) {
  const selection = selectTokens(sd15Tokenizer(), prompt);
  expect(selection.source).toBe('automatic');
  return selection;
}

describe('automatic selection on the A&E evaluation prompts (ALGORITHM.md Appendix A)', () => {
  it('has all 276 prompts', () => {
    expect(AE_PROMPTS.animals).toHaveLength(66);
    expect(AE_PROMPTS.animals_objects).toHaveLength(144);
    expect(AE_PROMPTS.objects).toHaveLength(66);
  });

  it('chooses both animals of "a/an X and a/an Y": [2, 5], no attributes', () => {
    for (const prompt of AE_PROMPTS.animals) {
      const [, first, second] = /^an? (\w+) and an? (\w+)$/.exec(prompt)!;
      const selection = automatic(prompt);
      expect(selection.tokenIndices, prompt).toEqual([2, 5]);
      expect(selection.attributeIndices, prompt).toEqual([0, 0]);
      expect(selection.objects.map((token) => token.token)).toEqual([first, second]);
    }
  });

  it('chooses "a X with a O" as [2, 5] and "a X and a C O" as [2, 6] with C bound to O', () => {
    let withPrompts = 0;
    for (const prompt of AE_PROMPTS.animals_objects) {
      const withObject = /^an? (\w+) with a (\w+)$/.exec(prompt);
      const selection = automatic(prompt);
      if (withObject) {
        withPrompts += 1;
        expect(selection.tokenIndices, prompt).toEqual([2, 5]);
        expect(selection.attributeIndices, prompt).toEqual([0, 0]);
        expect(selection.objects.map((token) => token.token)).toEqual([withObject[1], withObject[2]]);
      } else {
        const [, animal, colour, object] = /^an? (\w+) and a (\w+) (\w+)$/.exec(prompt)!;
        expect(selection.tokenIndices, prompt).toEqual([2, 6]);
        expect(selection.attributeIndices, prompt).toEqual([0, 5]);
        expect(selection.objects.map((token) => token.token)).toEqual([animal, object]);
        expect(selection.attributes[1]?.token).toBe(colour);
      }
    }
    expect(withPrompts).toBe(36);
  });

  it('chooses "a C O and a C\' O\'" as objects [3, 7] with colours [2, 6]', () => {
    for (const prompt of AE_PROMPTS.objects) {
      const [, colour, object, otherColour, otherObject] = /^a (\w+) (\w+) and a (\w+) (\w+)$/.exec(prompt)!;
      const selection = automatic(prompt);
      expect(selection.tokenIndices, prompt).toEqual([3, 7]);
      expect(selection.attributeIndices, prompt).toEqual([2, 6]);
      expect(selection.objects.map((token) => token.token)).toEqual([object, otherObject]);
      expect(selection.attributes.map((token) => token?.token)).toEqual([colour, otherColour]);
    }
  });
});

/**
 * ALGORITHM.md §9.1, the D&B notebook examples. Where the authors gave no colour indices (None), D&B
 * runs without binding; the automatic choice matches that when it binds nothing, i.e. all attribute
 * indices are 0, so None is compared as a list of zeros.
 */
const DB_EXAMPLES: { prompt: string; objects: number[]; attributes: number[] | null }[] = [
  {
    prompt: 'The ironman cooking in kitchen with a dog, Style-Empire,high quality, 8k UHD',
    objects: [2, 8],
    attributes: null,
  },
  { prompt: 'three geese floating in the middle of a river', objects: [2], attributes: null },
  { prompt: 'A train driving down the tracks under a bridge.', objects: [2, 6, 9], attributes: null },
  { prompt: 'a dog and a turtle on the street,snowy driving scene', objects: [2, 5], attributes: null },
  {
    prompt: 'a purple dog and a green bench on the street,snowy driving scene',
    objects: [3, 7],
    attributes: [2, 6],
  },
  { prompt: 'a black cat and a red suitcase in the library', objects: [3, 7], attributes: [2, 6] },
  {
    prompt: 'The flash and the superman on the snowy street, unreal engine 5, 8k, ultra hd',
    objects: [2, 5],
    attributes: null,
  },
  {
    prompt: 'The flash with green suit and the batman with blue suit, 8k, ultra hd',
    objects: [2, 8],
    attributes: [4, 10],
  },
];

describe('automatic selection on the D&B examples (ALGORITHM.md §9.1)', () => {
  for (const [number, example] of DB_EXAMPLES.entries()) {
    it(`#${number} ${example.prompt}`, () => {
      const selection = automatic(example.prompt);
      expect(selection.tokenIndices).toEqual(example.objects);
      expect(selection.attributeIndices).toEqual(example.attributes ?? example.objects.map(() => 0));
    });
  }

  it('names the tokens the authors named', () => {
    const names = (prompt: string) => automatic(prompt).objects.map((token) => token.token);
    expect(names(DB_EXAMPLES[0].prompt)).toEqual(['ironman', 'dog']);
    expect(names(DB_EXAMPLES[1].prompt)).toEqual(['geese']);
    expect(names(DB_EXAMPLES[2].prompt)).toEqual(['train', 'tracks', 'bridge']);
    expect(automatic(DB_EXAMPLES[7].prompt).attributes.map((token) => token?.token)).toEqual([
      'green',
      'blue',
    ]);
  });
});

describe('automatic selection rules', () => {
  const choice = (prompt: string) => {
    const selection = automatic(prompt);
    return {
      objects: selection.objects.map((token) => token.word),
      attributes: selection.attributes.map((token) => token?.word ?? '-'),
    };
  };

  it('takes the plural noun after a number word, not the number', () => {
    expect(choice('two dogs and three geese')).toEqual({
      objects: ['dogs', 'geese'],
      attributes: ['-', '-'],
    });
  });

  it('takes the last BPE piece of a word CLIP splits', () => {
    const selection = automatic('a firetruck and a hippopotamus');
    // fire + truck, hippo + potam + us: the last piece is the one whose embedding saw the whole word.
    expect(selection.objects).toEqual([
      { index: 3, token: 'truck', word: 'firetruck' },
      { index: 8, token: 'us', word: 'hippopotamus' },
    ]);
  });

  it('reads a later clause only when it opens with a determiner or a number word', () => {
    expect(choice('a cat, a red ball and two birds, high quality, 8k').objects).toEqual([
      'cat',
      'ball',
      'birds',
    ]);
  });

  it('lets a frame noun before "of" give way to the noun after it', () => {
    expect(choice('a photo of a group of puppies').objects).toEqual(['puppies']);
  });

  it('treats relation phrases as objects and context phrases as setting', () => {
    expect(choice('a dog in front of a car on the beach').objects).toEqual(['dog', 'car']);
    expect(choice('a bird next to a cup of coffee').objects).toEqual(['bird', 'cup']);
  });

  it('binds the nearest colour, material or texture word before the noun', () => {
    expect(choice('a big fluffy dog and a small wooden chair')).toEqual({
      objects: ['dog', 'chair'],
      attributes: ['fluffy', 'wooden'],
    });
  });

  it('gives "with" + a bare phrase to the previous object as a feature', () => {
    expect(choice('a man with red hair and a woman with a hat')).toEqual({
      objects: ['man', 'woman', 'hat'],
      attributes: ['red', '-', '-'],
    });
  });
});
