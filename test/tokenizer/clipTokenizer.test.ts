import { copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { ClipTokenizer } from '../../src/models/clipTokenizer.ts';
import { GOLDEN, sd15Tokenizer, TOKENIZER_FOLDER } from './fixtures.ts';

const TOKENIZER_FILES = ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'];
const tempFolders: string[] = [];

afterEach(() => {
  for (const folder of tempFolders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A copy of the fixture tokenizer that a test may change. */
function tokenizerCopy(): string {
  const folder = mkdtempSync(join(tmpdir(), 'clip-tokenizer-'));
  tempFolders.push(folder);
  for (const file of TOKENIZER_FILES) copyFileSync(join(TOKENIZER_FOLDER, file), join(folder, file));
  return folder;
}

function editJson(path: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(json);
  writeFileSync(path, JSON.stringify(json));
}

function loadError(folder: string): Error {
  try {
    ClipTokenizer.fromFolder(folder);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as Error;
  }
  throw new Error('expected the tokenizer folder to be refused');
}

function goldenCase(prefix: string) {
  const found = GOLDEN.cases.find((c) => c.prompt.startsWith(prefix) && c.truncated);
  if (!found) throw new Error(`no truncated golden prompt starts with ${prefix}`);
  return found;
}

describe('truncation', () => {
  it('keeps SOT + 75 ids + EOT and reports the 20 dropped tokens of a 97-token prompt', () => {
    const golden = goldenCase('a highly detailed photograph');
    const encoding = sd15Tokenizer().encode(golden.prompt);
    expect(encoding.truncated).toEqual({
      untruncatedLength: 97,
      droppedCount: 20,
      droppedText: sd15Tokenizer().decode(golden.untruncated_ids.slice(76, 96)),
    });
    expect(encoding.truncated?.droppedText).toBe(
      'artstation, by a famous photographer, extremely intricate fur texture, volumetric fog, rule of thirds',
    );
    expect(encoding.positions).toHaveLength(77);
    expect(encoding.positions[76]).toMatchObject({ index: 76, id: 49407, wordIndex: -1 });
  });

  it('drops the last word of 76 repeated words, and nothing of 75', () => {
    const tokenizer = sd15Tokenizer();
    expect(tokenizer.encode(Array(75).fill('cat').join(' ')).truncated).toBeNull();
    const truncated = tokenizer.encode(Array(76).fill('cat').join(' ')).truncated;
    expect(truncated).toEqual({ untruncatedLength: 78, droppedCount: 1, droppedText: 'cat' });
  });

  it('lists dropped words with no token positions', () => {
    const encoding = sd15Tokenizer().encode(Array(76).fill('cat').join(' '));
    expect(encoding.words).toHaveLength(76);
    expect(encoding.words[74]?.tokenIndices).toEqual([75]);
    expect(encoding.words[75]?.tokenIndices).toEqual([]);
  });
});

describe('token positions and words, for choosing object tokens', () => {
  it('maps "a purple dog and a green crown" to the indices the official code uses', () => {
    const encoding = sd15Tokenizer().encode('a purple dog and a green crown');
    expect(encoding.words.map((w) => [w.text, w.tokenIndices])).toEqual([
      ['a', [1]],
      ['purple', [2]],
      ['dog', [3]],
      ['and', [4]],
      ['a', [5]],
      ['green', [6]],
      ['crown', [7]],
    ]);
    expect(encoding.positions.map((p) => p.text)).toEqual([
      '<|startoftext|>',
      'a',
      'purple',
      'dog',
      'and',
      'a',
      'green',
      'crown',
      '<|endoftext|>',
    ]);
    expect(encoding.positions[3]).toEqual({
      index: 3,
      id: 1929,
      token: 'dog</w>',
      text: 'dog',
      wordIndex: 2,
    });
  });

  it('gives every token of a split word the same word, with its span in the cleaned text', () => {
    const encoding = sd15Tokenizer().encode('  ﬁne   LIGATURE ');
    expect(encoding.cleanedText).toBe('fine ligature');
    expect(encoding.words).toEqual([
      { text: 'fine', start: 0, end: 4, special: false, tokenIndices: [1] },
      { text: 'ligature', start: 5, end: 13, special: false, tokenIndices: [2, 3] },
    ]);
    expect(encoding.positions.slice(2, 4).map((p) => [p.token, p.text, p.wordIndex])).toEqual([
      ['lig', 'lig', 1],
      ['ature</w>', 'ature', 1],
    ]);
  });

  it('splits punctuation and contractions into their own words', () => {
    const encoding = sd15Tokenizer().encode("it's a dog, (cat)");
    expect(encoding.words.map((w) => w.text)).toEqual(['it', "'s", 'a', 'dog', ',', '(', 'cat', ')']);
  });

  it('keeps a typed special token as one word and one id', () => {
    const encoding = sd15Tokenizer().encode('a photo of a <|endoftext|> dog');
    expect(encoding.cleanedText).toBe('a photo of a <|endoftext|> dog');
    const special = encoding.words[4]!;
    expect(special).toMatchObject({ text: '<|endoftext|>', special: true, tokenIndices: [5] });
    expect(encoding.cleanedText.slice(special.start, special.end)).toBe('<|endoftext|>');
    expect(encoding.inputIds[5]).toBe(49407);
    expect(encoding.words[5]).toMatchObject({ text: 'dog', tokenIndices: [6] });
  });
});

describe('decode', () => {
  it('reads </w> as a space and cleans up spaces like transformers', () => {
    const tokenizer = sd15Tokenizer();
    const ids = tokenizer.encode("Hello, world! it's a café").untruncatedIds;
    expect(tokenizer.decode(ids)).toBe("<|startoftext|>hello, world! it's a café <|endoftext|>");
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe("hello, world! it's a café");
    expect(tokenizer.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false })).toBe(
      "hello , world ! it 's a café",
    );
  });

  it('reassembles multi-byte characters split across tokens', () => {
    const tokenizer = sd15Tokenizer();
    const ids = tokenizer.encode('日本の猫 🐱').untruncatedIds;
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe('日本の猫 🐱');
  });
});

describe('tokenizer folder', () => {
  it('pads with id 0 when the pad token is "!" (SD 2.x)', () => {
    const folder = tokenizerCopy();
    editJson(join(folder, 'special_tokens_map.json'), (json) => {
      json['pad_token'] = '!';
    });
    editJson(join(folder, 'tokenizer_config.json'), (json) => {
      json['pad_token'] = '!';
    });
    const tokenizer = ClipTokenizer.fromFolder(folder);
    expect(tokenizer.padTokenId).toBe(0);
    const encoding = tokenizer.encode('a cat and a frog');
    expect(encoding.inputIds).toEqual([49406, 320, 2368, 537, 320, 11438, 49407, ...Array(70).fill(0)]);
    expect(encoding.attentionMask).toEqual([...Array(7).fill(1), ...Array(70).fill(0)]);
    // transformers 4.33 never splits special tokens, so a typed "!" is the pad token there too.
    expect(tokenizer.encode('wow!').untruncatedIds).toEqual([49406, 2781, 0, 49407]);
    expect(sd15Tokenizer().encode('wow!').untruncatedIds).toEqual([49406, 2781, 256, 49407]);
  });

  it('takes the pad token from tokenizer_config.json when special_tokens_map.json is absent', () => {
    const folder = tokenizerCopy();
    unlinkSync(join(folder, 'special_tokens_map.json'));
    editJson(join(folder, 'tokenizer_config.json'), (json) => {
      json['pad_token'] = { content: '!', lstrip: false };
    });
    expect(ClipTokenizer.fromFolder(folder).padTokenId).toBe(0);
  });

  it('says which file is missing and how to fix it', () => {
    const folder = tokenizerCopy();
    unlinkSync(join(folder, 'vocab.json'));
    const message = loadError(folder).message;
    expect(message).toContain(join(folder, 'vocab.json'));
    expect(message).toContain('missing');
    expect(message).toContain('tokenizer/ folder');
    expect(loadError(join(folder, 'nowhere')).message).toContain('does not exist');
  });

  it('names malformed files', () => {
    let folder = tokenizerCopy();
    writeFileSync(join(folder, 'vocab.json'), '{"a": 1,');
    expect(loadError(folder).message).toMatch(/vocab\.json is malformed: not valid JSON/);

    folder = tokenizerCopy();
    writeFileSync(join(folder, 'merges.txt'), 'i n\nt h\n');
    expect(loadError(folder).message).toMatch(/merges\.txt is malformed: .*#version/);

    folder = tokenizerCopy();
    writeFileSync(join(folder, 'merges.txt'), '#version: 0.2\ni n\nt h x\n');
    expect(loadError(folder).message).toMatch(/merges\.txt is malformed: line 3/);

    folder = tokenizerCopy();
    editJson(join(folder, 'special_tokens_map.json'), (json) => {
      json['pad_token'] = '<pad>';
    });
    expect(loadError(folder).message).toMatch(/the pad_token "<pad>" is not in the vocabulary/);

    folder = tokenizerCopy();
    writeFileSync(join(folder, 'tokenizer_config.json'), '[1, 2]');
    expect(loadError(folder).message).toMatch(/tokenizer_config\.json is malformed/);
  });

  it('builds the same tokenizer from file contents (for browsers)', () => {
    const read = (file: string) => readFileSync(join(TOKENIZER_FOLDER, file), 'utf8');
    const tokenizer = ClipTokenizer.fromFileTexts({
      vocabJson: read('vocab.json'),
      mergesTxt: read('merges.txt'),
      tokenizerConfigJson: read('tokenizer_config.json'),
      specialTokensMapJson: read('special_tokens_map.json'),
    });
    const golden = GOLDEN.cases[1]!;
    expect(tokenizer.encode(golden.prompt).inputIds).toEqual(golden.input_ids);
  });
});
