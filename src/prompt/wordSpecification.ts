/**
 * Finds the token of a word given by name (`--objects dog,crown`, `--attributes purple,green`).
 * The word goes through the same tokenizer as the prompt, so case, accents and punctuation are
 * compared as CLIP sees them ("Dog" finds "dog"); several words ("teddy bear") must appear together.
 * The first occurrence is taken unless the word is written with `#n` ("dog#2" is the second dog).
 * The token is the word's last BPE piece (see `wordTokenIndex`); for several words, the last word's.
 */
import type { ClipEncoding, ClipTokenizer } from '../models/clipTokenizer.ts';
import { wordTokenIndex } from './promptTokens.ts';

/** A word reference that could not be found: the message says why, without the token list. */
export class WordNotFound extends Error {
  override name = 'WordNotFound';
}

interface WordReference {
  words: string[];
  occurrence: number;
}

/** The token index of a word reference such as "dog" or "dog#2". */
export function findWordToken(tokenizer: ClipTokenizer, encoding: ClipEncoding, written: string): number {
  const { words, occurrence } = parseWordReference(tokenizer, written);
  const starts = occurrencesOf(encoding, words);
  const quoted = JSON.stringify(written);
  if (starts.length === 0) throw new WordNotFound(`${quoted} is not a word of the prompt`);
  if (occurrence > starts.length) {
    const times = starts.length === 1 ? 'once' : `${starts.length} times`;
    throw new WordNotFound(`${quoted} asks for occurrence ${occurrence}, but the prompt has it ${times}`);
  }
  const lastWord = starts[occurrence - 1] + words.length - 1;
  const index = wordTokenIndex(encoding, lastWord);
  if (index === null) {
    throw new WordNotFound(
      `${quoted} is past the ${encoding.inputIds.length}-token limit, cut off by truncation`,
    );
  }
  return index;
}

function parseWordReference(tokenizer: ClipTokenizer, written: string): WordReference {
  const quoted = JSON.stringify(written);
  const numbered = /^(.*?)#(\d+)$/su.exec(written.trim());
  const text = numbered ? numbered[1] : written;
  const occurrence = numbered ? Number(numbered[2]) : 1;
  if (occurrence < 1) throw new WordNotFound(`${quoted}: occurrences are counted from #1`);
  const words = tokenizer
    .encode(text)
    .words.filter((word) => !word.special)
    .map((word) => word.text);
  if (words.length === 0) throw new WordNotFound(`${quoted} names no word`);
  return { words, occurrence };
}

/** Indices into `encoding.words` where `words` appear in a row, in prompt order. */
function occurrencesOf(encoding: ClipEncoding, words: readonly string[]): number[] {
  const starts: number[] = [];
  const promptWords = encoding.words;
  for (let start = 0; start + words.length <= promptWords.length; start += 1) {
    const matches = words.every(
      (text, k) => !promptWords[start + k].special && promptWords[start + k].text === text,
    );
    if (matches) starts.push(start);
  }
  return starts;
}
