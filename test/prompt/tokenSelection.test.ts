import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { selectTokens, type TokenSpecification } from '../../src/prompt/index.ts';
import { sd15Tokenizer } from '../tokenizer/fixtures.ts';

const PURPLE_DOG = 'a purple dog and a green crown';
const PURPLE_DOG_TOKENS = '1 a, 2 purple, 3 dog, 4 and, 5 a, 6 green, 7 crown';

function select(prompt: string, specification: TokenSpecification) {
  return selectTokens(sd15Tokenizer(), prompt, specification);
}

/** The UserError a specification raises; its message must also list the prompt's tokens. */
function failure(prompt: string, specification: TokenSpecification): string {
  try {
    select(prompt, specification);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return (error as UserError).message;
  }
  throw new Error('expected a UserError');
}

describe('token selection by index', () => {
  it('keeps the official indices and names their tokens', () => {
    const selection = select(PURPLE_DOG, { tokenIndices: [3, 7], attributeIndices: [2, 6] });
    expect(selection).toEqual({
      source: 'indices',
      objects: [
        { index: 3, token: 'dog', word: 'dog' },
        { index: 7, token: 'crown', word: 'crown' },
      ],
      attributes: [
        { index: 2, token: 'purple', word: 'purple' },
        { index: 6, token: 'green', word: 'green' },
      ],
      tokenIndices: [3, 7],
      attributeIndices: [2, 6],
    });
  });

  it('reads attribute 0 as none and pads a short attribute list with none', () => {
    expect(select(PURPLE_DOG, { tokenIndices: [3, 7], attributeIndices: [0, 6] }).attributes[0]).toBeNull();
    const padded = select(PURPLE_DOG, { tokenIndices: [3, 7], attributeIndices: [2] });
    expect(padded.attributeIndices).toEqual([2, 0]);
    expect(select(PURPLE_DOG, { tokenIndices: [3] }).attributeIndices).toEqual([0]);
  });

  it('names a piece of a split word with its word', () => {
    expect(select('a firetruck', { tokenIndices: [2] }).objects).toEqual([
      { index: 2, token: 'fire', word: 'firetruck' },
    ]);
  });
});

describe('token selection by word', () => {
  it('finds objects and attributes by word, case-insensitively', () => {
    const selection = select(PURPLE_DOG, { objects: ['Dog', 'CROWN'], attributes: ['purple', 'Green'] });
    expect(selection.source).toBe('words');
    expect(selection.tokenIndices).toEqual([3, 7]);
    expect(selection.attributeIndices).toEqual([2, 6]);
  });

  it('reads "-" as no attribute', () => {
    expect(
      select(PURPLE_DOG, { objects: ['dog', 'crown'], attributes: ['-', 'green'] }).attributeIndices,
    ).toEqual([0, 6]);
  });

  it('takes the first occurrence, or the n-th one written as word#n', () => {
    const prompt = 'a dog and a cat and a dog';
    expect(select(prompt, { objects: ['dog', 'cat'] }).tokenIndices).toEqual([2, 5]);
    expect(select(prompt, { objects: ['dog#2', 'cat'] }).tokenIndices).toEqual([8, 5]);
    expect(select(prompt, { objects: ['dog#1', 'dog#2'] }).tokenIndices).toEqual([2, 8]);
  });

  it('takes the last piece of a split word and the last word of several', () => {
    expect(
      select('a hippopotamus near a teddy bear', { objects: ['hippopotamus', 'teddy bear'] }).objects,
    ).toEqual([
      { index: 4, token: 'us', word: 'hippopotamus' },
      { index: 8, token: 'bear', word: 'bear' },
    ]);
  });

  it('mixes words for objects with indices for attributes', () => {
    expect(
      select(PURPLE_DOG, { objects: ['dog', 'crown'], attributeIndices: [2, 6] }).attributeIndices,
    ).toEqual([2, 6]);
  });
});

describe('bad specifications', () => {
  it('refuses an index past the prompt, on the start token, the end token or padding', () => {
    expect(failure(PURPLE_DOG, { tokenIndices: [3, 0] })).toContain('0 is the start token');
    expect(failure(PURPLE_DOG, { tokenIndices: [8] })).toContain(
      "8 is the end token <|endoftext|>: the prompt's last token is 7",
    );
    expect(failure(PURPLE_DOG, { tokenIndices: [3, 12] })).toContain(
      "12 is padding, past the prompt's last token 7",
    );
    expect(failure(PURPLE_DOG, { tokenIndices: [77] })).toContain("77 is past the prompt's last token 7");
    expect(failure(PURPLE_DOG, { tokenIndices: [-1] })).toContain('-1 is negative');
    expect(failure(PURPLE_DOG, { tokenIndices: [2.5] })).toContain('2.5 is not a whole number');
    expect(failure(PURPLE_DOG, { tokenIndices: [3], attributeIndices: [9] })).toContain(
      'Attribute token index 9 is padding',
    );
  });

  it('lists the prompt tokens with their indices in every message', () => {
    const message = failure(PURPLE_DOG, { tokenIndices: [8] });
    expect(message).toContain(`The tokens of "${PURPLE_DOG}" are: ${PURPLE_DOG_TOKENS}`);
    expect(message).toContain('(0 is the start token, 8 the end token)');
  });

  it('refuses a word that is not in the prompt, or not that often', () => {
    expect(failure(PURPLE_DOG, { objects: ['dog', 'cat'] })).toContain(
      'The object "cat" is not a word of the prompt',
    );
    expect(failure(PURPLE_DOG, { objects: ['dog#2'] })).toContain(
      'The object "dog#2" asks for occurrence 2, but the prompt has it once',
    );
    expect(failure(PURPLE_DOG, { objects: ['dog#0'] })).toContain('occurrences are counted from #1');
    expect(failure(PURPLE_DOG, { objects: ['dog'], attributes: ['red'] })).toContain(
      'The attribute "red" is not a word of the prompt',
    );
    expect(failure(PURPLE_DOG, { objects: ['-'] })).toContain('cannot be an object');
    expect(failure(PURPLE_DOG, { objects: ['   '] })).toContain('names no word');
  });

  it('refuses a word cut off by truncation', () => {
    const long = `${'a cat and '.repeat(25)}a dog`;
    expect(failure(long, { objects: ['dog'] })).toContain(
      '"dog" is past the 77-token limit, cut off by truncation',
    );
  });

  it('refuses more attributes than objects', () => {
    expect(failure(PURPLE_DOG, { tokenIndices: [3], attributeIndices: [2, 6] })).toContain(
      'There are 2 attributes for 1 object',
    );
    expect(failure(PURPLE_DOG, { objects: ['dog'], attributes: ['purple', 'green'] })).toContain(
      'There are 2 attributes for 1 object',
    );
  });

  it('refuses duplicate objects', () => {
    expect(failure(PURPLE_DOG, { tokenIndices: [3, 3] })).toContain(
      'Token 3 (dog) is chosen twice as an object',
    );
    expect(failure(PURPLE_DOG, { objects: ['dog', 'dog#1'] })).toContain('Token 3 (dog) is chosen twice');
  });

  it('refuses an attribute equal to its object, or to another object', () => {
    expect(failure(PURPLE_DOG, { tokenIndices: [3, 7], attributeIndices: [3, 6] })).toContain(
      'Token 3 (dog) is both an object and its own attribute',
    );
    expect(failure(PURPLE_DOG, { objects: ['dog', 'crown'], attributes: ['crown'] })).toContain(
      'Attribute token 7 (crown) is also one of the objects',
    );
  });

  it('refuses two ways of giving the same thing, attributes without objects and empty lists', () => {
    expect(failure(PURPLE_DOG, { tokenIndices: [3], objects: ['dog'] })).toContain('not both');
    expect(
      failure(PURPLE_DOG, { tokenIndices: [3], attributeIndices: [2], attributes: ['purple'] }),
    ).toContain('not both');
    expect(failure(PURPLE_DOG, { attributes: ['purple'] })).toContain('give the objects too');
    expect(failure(PURPLE_DOG, { tokenIndices: [] })).toContain('Object token list is empty');
    expect(failure(PURPLE_DOG, { objects: [] })).toContain('The object list is empty');
  });

  it('says how to name objects when automatic selection finds no noun', () => {
    const message = failure('high quality, 8k, ultra hd', {});
    expect(message).toContain('Automatic token selection found no object noun in the prompt');
    expect(message).toContain('--objects dog,crown');
    expect(message).toContain('--token-indices 3,7');
    expect(message).toContain('1 high, 2 quality, 3 ,, 4 8, 5 k, 6 ,, 7 ultra, 8 hd');
  });
});
