/**
 * Resolves what the user said about the prompt's object and attribute tokens into official indices
 * (ALGORITHM.md §6: start token = 0, attributes aligned with objects, 0 = no attribute):
 *   - by index: `tokenIndices` (`--token-indices 3,7`) and `attributeIndices` (`--attribute-indices 2,6`);
 *   - by word: `objects` (`--objects dog,crown`) and `attributes` (`--attributes purple,green`, `-` = none);
 *   - automatically when neither objects nor attributes are given (automaticSelection.ts).
 * Objects and attributes may be given in different ways (`--objects dog,crown --attribute-indices 2,6`).
 * An attribute list shorter than the object list leaves the remaining objects without an attribute.
 * Every mistake is a UserError that lists the prompt's tokens with their indices.
 */
import { UserError } from '../errors.ts';
import type { ClipEncoding, ClipTokenizer } from '../models/clipTokenizer.ts';
import { chooseObjectsAndAttributes } from './automaticSelection.ts';
import { indexProblem } from './indexSpecification.ts';
import { describePromptTokens, type SelectedToken, selectedToken, wordTokenIndex } from './promptTokens.ts';
import { findWordToken, WordNotFound } from './wordSpecification.ts';

/** What the user gave; leave everything out for the automatic choice. */
export interface TokenSpecification {
  /** Object tokens by official index (start token = 0). */
  tokenIndices?: readonly number[];
  /** Attribute tokens by index, aligned with the objects; 0 = none. */
  attributeIndices?: readonly number[];
  /** Object words ("dog", "dog#2" for the second "dog", "teddy bear"). */
  objects?: readonly string[];
  /** Attribute words aligned with the objects; "-" = none. */
  attributes?: readonly string[];
}

export type TokenSource = 'indices' | 'words' | 'automatic';

/** The chosen tokens: what guidance uses, and what is printed and written to the trace. */
export interface TokenSelection {
  /** How the objects were chosen. */
  source: TokenSource;
  objects: SelectedToken[];
  /** Aligned with `objects`; null where an object has no attribute. */
  attributes: (SelectedToken | null)[];
  /** Official object indices (A&E's and D&B's `token_indices`). */
  tokenIndices: number[];
  /** Official attribute indices aligned with `tokenIndices`, 0 = none (D&B's `color_indices`). */
  attributeIndices: number[];
}

/** The word that marks "no attribute for this object" in `attributes`. */
export const NO_ATTRIBUTE_WORD = '-';

export function selectTokens(
  tokenizer: ClipTokenizer,
  prompt: string,
  specification: TokenSpecification = {},
): TokenSelection {
  const encoding = tokenizer.encode(prompt);
  const fail = (problem: string): never => {
    throw new UserError(`${problem}. ${describePromptTokens(prompt, encoding)}`);
  };
  const { tokenIndices, attributeIndices, objects, attributes } = specification;

  if (tokenIndices !== undefined && objects !== undefined) {
    fail('Give the objects either by index (--token-indices) or by word (--objects), not both');
  }
  if (attributeIndices !== undefined && attributes !== undefined) {
    fail('Give the attributes either by index (--attribute-indices) or by word (--attributes), not both');
  }
  const attributesGiven = attributeIndices !== undefined || attributes !== undefined;
  if (tokenIndices === undefined && objects === undefined) {
    if (attributesGiven) {
      fail('Attributes are aligned with objects: give the objects too (--token-indices or --objects)');
    }
    return automaticSelection(encoding, fail);
  }

  const objectIndices =
    tokenIndices !== undefined
      ? checkedIndices(encoding, tokenIndices, 'Object token', fail)
      : findWords(tokenizer, encoding, objects!, 'object', fail);
  let chosenAttributes: number[] = [];
  if (attributeIndices !== undefined) {
    chosenAttributes = checkedIndices(encoding, attributeIndices, 'Attribute token', fail, true);
  } else if (attributes !== undefined) {
    chosenAttributes = findWords(tokenizer, encoding, attributes, 'attribute', fail);
  }

  return selection(
    encoding,
    tokenIndices !== undefined ? 'indices' : 'words',
    objectIndices,
    chosenAttributes,
    fail,
  );
}

function automaticSelection(encoding: ClipEncoding, fail: (problem: string) => never): TokenSelection {
  const objects: number[] = [];
  const attributes: number[] = [];
  for (const choice of chooseObjectsAndAttributes(encoding)) {
    const objectIndex = wordTokenIndex(encoding, choice.objectWord);
    if (objectIndex === null) continue; // cut off by truncation: nothing to guide
    objects.push(objectIndex);
    attributes.push(
      choice.attributeWord === null ? 0 : (wordTokenIndex(encoding, choice.attributeWord) ?? 0),
    );
  }
  if (objects.length === 0) {
    fail(
      'Automatic token selection found no object noun in the prompt. Name the objects by word ' +
        '(--objects dog,crown) or by token index (--token-indices 3,7)',
    );
  }
  return selection(encoding, 'automatic', objects, attributes, fail);
}

function checkedIndices(
  encoding: ClipEncoding,
  indices: readonly number[],
  what: string,
  fail: (problem: string) => never,
  zeroMeansNone = false,
): number[] {
  if (indices.length === 0) fail(`${what} list is empty`);
  for (const index of indices) {
    if (zeroMeansNone && index === 0) continue;
    const problem = indexProblem(encoding, index);
    if (problem !== null) fail(`${what} index ${problem}`);
  }
  return [...indices];
}

function findWords(
  tokenizer: ClipTokenizer,
  encoding: ClipEncoding,
  words: readonly string[],
  what: 'object' | 'attribute',
  fail: (problem: string) => never,
): number[] {
  if (words.length === 0) fail(`The ${what} list is empty`);
  return words.map((written) => {
    if (written.trim() === NO_ATTRIBUTE_WORD) {
      if (what === 'attribute') return 0;
      fail(`"${NO_ATTRIBUTE_WORD}" means "no attribute" and cannot be an object`);
    }
    try {
      return findWordToken(tokenizer, encoding, written);
    } catch (error) {
      if (error instanceof WordNotFound) fail(`The ${what} ${error.message}`);
      throw error;
    }
  });
}

/** Checks how objects and attributes fit together, then names every chosen token. */
function selection(
  encoding: ClipEncoding,
  source: TokenSource,
  objects: readonly number[],
  attributes: readonly number[],
  fail: (problem: string) => never,
): TokenSelection {
  const name = (index: number): string => `${index} (${encoding.positions[index].text})`;
  if (attributes.length > objects.length) {
    fail(
      `There are ${attributes.length} attributes for ${objects.length} object${objects.length === 1 ? '' : 's'}: ` +
        'attributes are aligned with objects, one each at most (0 or "-" for none)',
    );
  }
  const seen = new Set<number>();
  for (const index of objects) {
    if (seen.has(index)) fail(`Token ${name(index)} is chosen twice as an object`);
    seen.add(index);
  }
  const attributeIndices = objects.map((_, k) => attributes[k] ?? 0);
  for (const [k, attribute] of attributeIndices.entries()) {
    if (attribute === 0) continue;
    if (attribute === objects[k]) fail(`Token ${name(attribute)} is both an object and its own attribute`);
    if (seen.has(attribute)) fail(`Attribute token ${name(attribute)} is also one of the objects`);
  }

  return {
    source,
    objects: objects.map((index) => selectedToken(encoding, index)),
    attributes: attributeIndices.map((index) => (index === 0 ? null : selectedToken(encoding, index))),
    tokenIndices: [...objects],
    attributeIndices,
  };
}
