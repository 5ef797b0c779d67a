import { describe, expect, it } from 'vitest';
import {
  formatPromptTokens,
  formatSelectionOptions,
  formatTokenSelection,
  selectTokens,
} from '../../src/prompt/index.ts';
import { sd15Tokenizer } from '../tokenizer/fixtures.ts';

describe('token formatting', () => {
  it('prints the chosen tokens and the same choice as options', () => {
    const selection = selectTokens(sd15Tokenizer(), 'a turquoise hippopotamus and a dog');
    expect(formatTokenSelection(selection)).toBe(
      'objects: 5 us (hippopotamus), 8 dog; attributes: 2 turquoise, -',
    );
    expect(formatSelectionOptions(selection)).toBe('--token-indices 5,8 --attribute-indices 2,0');
  });

  it('leaves attributes out when there are none', () => {
    const selection = selectTokens(sd15Tokenizer(), 'a cat and a frog');
    expect(formatTokenSelection(selection)).toBe('objects: 2 cat, 5 frog');
    expect(formatSelectionOptions(selection)).toBe('--token-indices 2,5');
  });

  it('lists a prompt for `dnb tokens` with the automatic choice', () => {
    expect(formatPromptTokens(sd15Tokenizer(), 'a purple dog and a green crown')).toBe(
      [
        'Prompt: "a purple dog and a green crown"',
        'Tokens (0 is the start token, 8 the end token): 1 a, 2 purple, 3 dog, 4 and, 5 a, 6 green, 7 crown',
        'Automatic choice: objects: 3 dog, 7 crown; attributes: 2 purple, 6 green',
        'As options: --token-indices 3,7 --attribute-indices 2,6',
      ].join('\n'),
    );
  });

  it('says when there is no automatic choice, and when the prompt is truncated', () => {
    const text = formatPromptTokens(sd15Tokenizer(), `high quality, ${'8k '.repeat(40)}`);
    expect(text).toContain('Truncated: 8 tokens past the limit are dropped');
    expect(text).toContain(
      'Automatic choice: no object noun found; name the objects with --objects or --token-indices',
    );
  });
});
