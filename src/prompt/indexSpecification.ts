/**
 * Checks token indices given by hand (`--token-indices 3,7`, `--attribute-indices 2,6`) against the
 * prompt: only the prompt's own tokens can be guided, never the start token, the end token or padding.
 */
import type { ClipEncoding } from '../models/clipTokenizer.ts';
import { endTokenIndex } from './promptTokens.ts';

/** Why `index` cannot be chosen, or null when it is one of the prompt's tokens. */
export function indexProblem(encoding: ClipEncoding, index: number): string | null {
  const end = endTokenIndex(encoding);
  if (!Number.isInteger(index)) return `${index} is not a whole number`;
  if (index < 0) return `${index} is negative`;
  if (index === 0) return '0 is the start token <|startoftext|>, which is not part of the prompt';
  if (index < end) return null;
  if (index === end) return `${index} is the end token <|endoftext|>: the prompt's last token is ${end - 1}`;
  if (index < encoding.inputIds.length) return `${index} is padding, past the prompt's last token ${end - 1}`;
  return `${index} is past the prompt's last token ${end - 1} and past the ${encoding.inputIds.length}-token sequence`;
}
