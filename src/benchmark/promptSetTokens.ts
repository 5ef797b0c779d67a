/**
 * Token indices from a prompt's structure (official numbering, ALGORITHM.md §6: 0 = start token, a word
 * stands for its last BPE piece), so a set's guidance tokens are what its template put there, not what a
 * tagger guesses.
 */
import { UserError } from '../errors.ts';
import type { ClipTokenizer } from '../models/clipTokenizer.ts';
import { describePromptTokens } from '../prompt/promptTokens.ts';
import { selectTokens } from '../prompt/tokenSelection.ts';
import { findWordToken, WordNotFound } from '../prompt/wordSpecification.ts';
import type { BenchmarkPrompt } from './promptSet.ts';

export interface StructureTokens {
  tokenIndices: number[];
  /** Aligned with `tokenIndices`, 0 = none; absent when the prompt has no attributes. */
  attributeIndices?: number[];
}

/**
 * Finds each structure word in the prompt in reading order: an object's attribute, then the object, then the
 * next object's attribute, … Each word is searched after the previous one, so a colour used twice ("a blue
 * clock and a blue apple") gets both of its occurrences, and a scene after the objects is never taken.
 */
export function structureTokenIndices(
  tokenizer: ClipTokenizer,
  prompt: Pick<BenchmarkPrompt, 'id' | 'text' | 'objects' | 'attributes'>,
): StructureTokens {
  const encoding = tokenizer.encode(prompt.text);
  const fail = (problem: string): never => {
    throw new UserError(`prompt ${prompt.id}: ${problem}. ${describePromptTokens(prompt.text, encoding)}`);
  };
  if (prompt.objects.length === 0) fail('its structure names no object');

  let after = 0;
  const nextOccurrence = (word: string): number => {
    for (let occurrence = 1; ; occurrence += 1) {
      let index: number;
      try {
        index = findWordToken(tokenizer, encoding, `${word}#${occurrence}`);
      } catch (error) {
        if (error instanceof WordNotFound) fail(`"${word}" is not in the prompt after token ${after}`);
        throw error;
      }
      if (index > after) {
        after = index;
        return index;
      }
    }
  };

  const tokenIndices: number[] = [];
  const attributeIndices: number[] = [];
  for (const [k, object] of prompt.objects.entries()) {
    const attribute = prompt.attributes.find((candidate) => candidate.object === k);
    attributeIndices.push(attribute === undefined ? 0 : nextOccurrence(attribute.word));
    tokenIndices.push(nextOccurrence(object.word));
  }
  for (const attribute of prompt.attributes) {
    if (!Number.isInteger(attribute.object) || prompt.objects[attribute.object] === undefined) {
      fail(`attribute "${attribute.word}" modifies object ${attribute.object}, which the structure lacks`);
    }
  }
  // The project's own checks (an attribute that is also an object, one object twice, …).
  selectTokens(tokenizer, prompt.text, { tokenIndices, attributeIndices });
  return prompt.attributes.length > 0 ? { tokenIndices, attributeIndices } : { tokenIndices };
}
