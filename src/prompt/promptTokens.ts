/**
 * The prompt's token positions in the official numbering (ALGORITHM.md §6): 0 is the start token,
 * each BPE piece has its own index, then the end token, then padding up to 77.
 */
import type { ClipEncoding } from '../models/clipTokenizer.ts';

/** A chosen token, for printing and for the trace. */
export interface SelectedToken {
  /** Official index: position in the CLIP token sequence (0 = start token). */
  index: number;
  /** The token as text, e.g. "dog" (for a word split into pieces, only this piece). */
  token: string;
  /** The prompt word the token belongs to, e.g. "firetruck" for the piece "truck". */
  word: string;
}

/** Index of the end token: the prompt's tokens are 1 .. endTokenIndex - 1. */
export function endTokenIndex(encoding: ClipEncoding): number {
  return encoding.positions[encoding.positions.length - 1].index;
}

/** The prompt's own tokens, without the start and end tokens. */
export function promptPositions(encoding: ClipEncoding): ClipEncoding['positions'] {
  return encoding.positions.slice(1, -1);
}

/** "1 a, 2 purple, 3 dog, 4 and, ...": what error messages and `dnb tokens` show. */
export function formatTokenList(encoding: ClipEncoding): string {
  const listed = promptPositions(encoding).map((position) => `${position.index} ${position.text}`);
  return listed.length > 0 ? listed.join(', ') : '(none: the prompt is empty)';
}

/** The prompt and its numbered tokens, appended to every specification error. */
export function describePromptTokens(prompt: string, encoding: ClipEncoding): string {
  return (
    `The tokens of ${JSON.stringify(prompt)} are: ${formatTokenList(encoding)} ` +
    `(0 is the start token, ${endTokenIndex(encoding)} the end token).`
  );
}

/**
 * The token that stands for a whole word: its last BPE piece. CLIP's text encoder is causal, so the
 * last piece's embedding is the only one that has seen the whole word ("hippopotamus" is hippo +
 * potam + us; "hippo" alone would guide a hippo-prefix, not the word), and English compounds put their
 * head last ("firetruck" -> fire + truck). Null when truncation cut the word off.
 */
export function wordTokenIndex(encoding: ClipEncoding, wordIndex: number): number | null {
  const indices = encoding.words[wordIndex].tokenIndices;
  return indices.length > 0 ? indices[indices.length - 1] : null;
}

/** The token at an official index, with its text and word (the index must be a prompt token). */
export function selectedToken(encoding: ClipEncoding, index: number): SelectedToken {
  const position = encoding.positions[index];
  const word = position.wordIndex >= 0 ? encoding.words[position.wordIndex].text : position.text;
  return { index, token: position.text, word };
}
