import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { ClipTokenizer } from '../../src/models/clipTokenizer.ts';
import type { ClipTokenizerFileTexts } from '../../src/models/clipTokenizerFiles.ts';
import { TINY_SD } from '../helpers/fixtures.ts';
import { FUZZ_TIMEOUT_MS, loadsOrRefuses, RUNS } from './fuzzRuns.ts';

const FOLDER = join(TINY_SD, 'tokenizer');
const read = (file: string) => readFileSync(join(FOLDER, file), 'utf8');

/**
 * The tiny model's tokenizer cut to its first 400 tokens and 200 merges (plus the special tokens), so a case
 * parses in microseconds instead of the full 1 MB vocabulary's milliseconds.
 */
function smallTokenizerTexts(): ClipTokenizerFileTexts {
  const vocab = JSON.parse(read('vocab.json')) as Record<string, number>;
  const kept = Object.entries(vocab)
    .sort((a, b) => a[1] - b[1])
    .slice(0, 400);
  for (const special of ['<|startoftext|>', '<|endoftext|>']) kept.push([special, vocab[special]]);
  const merges = read('merges.txt').split('\n').slice(0, 201).join('\n');
  return {
    vocabJson: JSON.stringify(Object.fromEntries(kept)),
    mergesTxt: merges,
    tokenizerConfigJson: read('tokenizer_config.json'),
    specialTokensMapJson: read('special_tokens_map.json'),
  };
}

/** A text with up to four edits: a character changed, inserted or cut, or a slice repeated. */
function mutatedText(base: string): fc.Arbitrary<string> {
  const edit = fc.record({
    kind: fc.constantFrom('set', 'insert', 'cut', 'repeat'),
    at: fc.nat(base.length),
    length: fc.integer({ min: 1, max: 40 }),
    text: fc.oneof(
      fc.string({ maxLength: 4 }),
      fc.constantFrom('"', '{', '}', ':', ',', ' ', '\n', '#', '\\'),
    ),
  });
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let text = base;
    for (const { kind, at, length, text: piece } of edits) {
      const i = Math.min(at, text.length);
      if (kind === 'set') text = text.slice(0, i) + piece + text.slice(i + piece.length);
      else if (kind === 'insert') text = text.slice(0, i) + piece + text.slice(i);
      else if (kind === 'cut') text = text.slice(0, i) + text.slice(i + length);
      else text = text.slice(0, i + length) + text.slice(i, i + length) + text.slice(i + length);
    }
    return text;
  });
}

/** Loading is not enough: the tokenizer that loads must also encode a prompt without crashing. */
function loadAndEncode(files: ClipTokenizerFileTexts): void {
  ClipTokenizer.fromFileTexts(files).encode('a purple dog and a green crown, 2 cats!');
}

describe('the tokenizer files reader never crashes', { timeout: FUZZ_TIMEOUT_MS }, () => {
  const valid = smallTokenizerTexts();
  const fields = ['vocabJson', 'mergesTxt', 'tokenizerConfigJson', 'specialTokensMapJson'] as const;

  for (const field of fields) {
    it(`with ${field} edited (${RUNS} cases)`, async () => {
      await fc.assert(
        fc.asyncProperty(mutatedText(valid[field] ?? ''), (text) =>
          loadsOrRefuses(() => loadAndEncode({ ...valid, [field]: text })),
        ),
        { numRuns: RUNS },
      );
    });
  }

  it(`with any JSON as vocab.json and any text as merges.txt (${RUNS} cases)`, async () => {
    const vocab = fc.oneof(
      fc.json(),
      fc
        .dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.nat(500), fc.double(), fc.string()))
        .map((v) => JSON.stringify({ ...v, '<|startoftext|>': 0, '<|endoftext|>': 1 })),
    );
    const merges = fc.array(fc.string({ maxLength: 8 }), { maxLength: 20 }).map((lines) => lines.join('\n'));
    await fc.assert(
      fc.asyncProperty(vocab, merges, (vocabJson, mergesTxt) =>
        loadsOrRefuses(() => loadAndEncode({ ...valid, vocabJson, mergesTxt })),
      ),
      { numRuns: RUNS },
    );
  });
});
