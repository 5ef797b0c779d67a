/**
 * Part-of-speech tags for a prompt's CLIP words, from compromise (an MIT-licensed, offline, pure-JS
 * English tagger). The tagger reads the words joined back into text, so its context rules see the
 * sentence, and each tag is mapped back to the CLIP word that starts where the tagged term starts.
 */
import { createRequire } from 'node:module';
import type compromise from 'compromise';
import type { ClipWord } from '../models/clipTokenizer.ts';
import { isClauseBreak, isPunctuation } from './wordClasses.ts';

export type PartOfSpeech =
  | 'noun'
  | 'adjective'
  | 'verb'
  | 'gerund'
  | 'adverb'
  | 'number'
  | 'pronoun'
  | 'other';

let nlp: typeof compromise | undefined;

/**
 * compromise, loaded on the first prompt that needs tags: loading its lexicon takes ~0.6 s (its CommonJS build;
 * ~0.9 s as an ES module), which a command or a plan that selects no tokens automatically would pay for nothing.
 * Loaded synchronously, because the plan that selects tokens is synchronous.
 */
function tagger(): typeof compromise {
  nlp ??= createRequire(import.meta.url)('compromise') as typeof compromise;
  return nlp;
}

/** compromise tags, most specific first: a gerund is also a verb, a numeric unit ("8k") also a noun. */
const TAG_ORDER: readonly [string, PartOfSpeech][] = [
  ['Pronoun', 'pronoun'],
  ['Value', 'number'],
  ['Gerund', 'gerund'],
  ['Noun', 'noun'],
  ['Adjective', 'adjective'],
  ['Verb', 'verb'],
  ['Adverb', 'adverb'],
];

interface TaggedTerm {
  tags: string[];
  offset: { start: number };
}

/** One tag per word of `words`; punctuation and words the tagger merged into a neighbour get 'other'. */
export function tagWords(words: readonly ClipWord[], cleanedText: string): PartOfSpeech[] {
  const starts: number[] = [];
  let text = '';
  for (const [i, word] of words.entries()) {
    if (i > 0) text += joinerBefore(words[i - 1], word, cleanedText);
    starts.push(text.length);
    text += word.text;
  }

  const tagAt = new Map<number, PartOfSpeech>();
  const sentences = tagger()(text).json({ offset: true, terms: { offset: true, tags: true } }) as {
    terms: TaggedTerm[];
  }[];
  for (const term of sentences.flatMap((sentence) => sentence.terms)) {
    tagAt.set(term.offset.start, partOfSpeechOf(term.tags));
  }
  return words.map((word, i) => (isPunctuation(word.text) ? 'other' : (tagAt.get(starts[i]) ?? 'other')));
}

/**
 * What separates two words in the text given to the tagger: what separated them in the prompt, but a
 * space after a comma, so "street,snowy" reads as two phrases as CLIP reads it.
 */
function joinerBefore(previous: ClipWord, word: ClipWord, cleanedText: string): string {
  if (/\s/u.test(cleanedText.slice(previous.end, word.start))) return ' ';
  return isClauseBreak(previous.text) && !isPunctuation(word.text) ? ' ' : '';
}

function partOfSpeechOf(tags: readonly string[]): PartOfSpeech {
  for (const [tag, partOfSpeech] of TAG_ORDER) if (tags.includes(tag)) return partOfSpeech;
  return 'other';
}

const gerundWords = new Map<string, boolean>();

/**
 * Whether a word is, out of context, a verb's -ing form. compromise reads "the ironman cooking in
 * kitchen" as the compound noun "ironman cooking"; a gerund right after a noun is a participle instead.
 */
export function isGerundWord(word: string): boolean {
  let known = gerundWords.get(word);
  if (known === undefined) {
    known = word.endsWith('ing') && tagger()(word).has('#Gerund');
    gerundWords.set(word, known);
  }
  return known;
}
