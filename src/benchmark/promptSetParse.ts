/**
 * Checks a prompt-set file (one PromptSet, or `{ "sets": [...] }`) field by field, so a hand-edited or foreign
 * file fails with the path of the wrong field and what it should hold, not later inside a run.
 */
import { UserError } from '../errors.ts';
import type {
  BenchmarkPrompt,
  PromptAttribute,
  PromptObject,
  PromptSet,
  StructureSource,
  TifaQuestion,
} from './promptSet.ts';
import { isSafePromptId } from './promptSetIds.ts';

const STRUCTURE_SOURCES: readonly StructureSource[] = ['template', 'automatic', 'given', 'none'];

type Record_ = Record<string, unknown>;

/** The sets of a parsed prompt-set file; `source` names the file in errors. */
export function parsePromptSets(value: unknown, source: string): PromptSet[] {
  const fail = (problem: string): never => {
    throw new UserError(
      `${source} is not a prompt-set file: ${problem}. Make one from a list of prompts with ` +
        '`dnb benchmark import FILE --out FILE.json`',
    );
  };
  if (Array.isArray(value)) fail('it is a JSON list, not an object with "name" and "prompts" (or "sets")');
  if (!isRecord(value)) fail('it is not a JSON object');
  const file = value as Record_;
  if ('sets' in file) {
    if (!Array.isArray(file.sets) || file.sets.length === 0) fail('"sets" must be a non-empty list of sets');
    const sets = (file.sets as unknown[]).map((set, i) => parseSet(set, `sets[${i}]`, fail));
    const names = new Set<string>();
    for (const set of sets) {
      if (names.has(set.name)) fail(`two sets are named "${set.name}"`);
      names.add(set.name);
    }
    return sets;
  }
  return [parseSet(file, '', fail)];
}

function parseSet(value: unknown, at: string, fail: (problem: string) => never): PromptSet {
  const path = (field: string) => (at ? `${at}.${field}` : field);
  if (!isRecord(value)) fail(`${at || 'the file'} must be an object`);
  const set = value as Record_;
  const name = requireString(set, 'name', path, fail);
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
    fail(`${path('name')} "${name}" must be lower-case letters, digits, ".", "_" or "-" (it names a folder)`);
  }
  if (!Array.isArray(set.prompts) || set.prompts.length === 0) {
    fail(`${path('prompts')} must be a non-empty list`);
  }
  const prompts = (set.prompts as unknown[]).map((prompt, i) =>
    parsePrompt(prompt, path(`prompts[${i}]`), fail),
  );
  const ids = new Set<string>();
  for (const [i, prompt] of prompts.entries()) {
    if (ids.has(prompt.id)) fail(`${path(`prompts[${i}].id`)} "${prompt.id}" is used twice`);
    ids.add(prompt.id);
  }
  const parsed: PromptSet = {
    name,
    label: optionalString(set, 'label', path, fail) ?? name,
    source: optionalString(set, 'source', path, fail) ?? '',
    reconstructed: set.reconstructed === true,
    prompts,
  };
  const generatedBy = optionalString(set, 'generatedBy', path, fail);
  if (generatedBy !== undefined) parsed.generatedBy = generatedBy;
  if (set.vocabulary !== undefined) {
    const vocabulary = set.vocabulary as Record_;
    if (!isRecord(vocabulary)) fail(`${path('vocabulary')} must be an object`);
    parsed.vocabulary = {};
    for (const key of ['colors', 'scenes'] as const) {
      if (vocabulary[key] !== undefined) {
        parsed.vocabulary[key] = stringList(vocabulary[key], path(`vocabulary.${key}`), fail);
      }
    }
  }
  return parsed;
}

function parsePrompt(value: unknown, at: string, fail: (problem: string) => never): BenchmarkPrompt {
  const path = (field: string) => `${at}.${field}`;
  if (!isRecord(value)) fail(`${at} must be an object`);
  const prompt = value as Record_;
  const id = requireString(prompt, 'id', path, fail);
  if (!isSafePromptId(id)) {
    fail(
      `${path('id')} "${id}" must be letters, digits, "_", "." or "-" (it names the prompt's image folder)`,
    );
  }
  const text = requireString(prompt, 'text', path, fail);
  if (text.trim() === '') fail(`${path('text')} is empty`);
  const objects = listOf(prompt.objects ?? [], path('objects'), fail).map((object, k) =>
    parseObject(object, path(`objects[${k}]`), fail),
  );
  const attributes = listOf(prompt.attributes ?? [], path('attributes'), fail).map((attribute, k) =>
    parseAttribute(attribute, path(`attributes[${k}]`), objects.length, fail),
  );
  const parsed: BenchmarkPrompt = { id, text, objects, attributes };
  const scene = optionalString(prompt, 'scene', path, fail);
  if (scene !== undefined) parsed.scene = scene;
  if (prompt.tokenIndices !== undefined) {
    parsed.tokenIndices = indexList(prompt.tokenIndices, path('tokenIndices'), 1, fail);
  }
  if (prompt.attributeIndices !== undefined) {
    if (parsed.tokenIndices === undefined) fail(`${path('attributeIndices')} needs tokenIndices beside it`);
    parsed.attributeIndices = indexList(prompt.attributeIndices, path('attributeIndices'), 0, fail);
    if (parsed.attributeIndices.length > parsed.tokenIndices.length) {
      fail(`${path('attributeIndices')} is longer than tokenIndices (they are aligned, 0 = no attribute)`);
    }
  }
  if (prompt.questions !== undefined) {
    parsed.questions = listOf(prompt.questions, path('questions'), fail).map((question, k) =>
      parseQuestion(question, path(`questions[${k}]`), fail),
    );
  }
  if (prompt.structureSource !== undefined) {
    if (!STRUCTURE_SOURCES.includes(prompt.structureSource as StructureSource)) {
      fail(`${path('structureSource')} must be one of ${STRUCTURE_SOURCES.join(', ')}`);
    }
    parsed.structureSource = prompt.structureSource as StructureSource;
  }
  const category = optionalString(prompt, 'category', path, fail);
  if (category !== undefined) parsed.category = category;
  return parsed;
}

function parseObject(value: unknown, at: string, fail: (problem: string) => never): PromptObject {
  if (!isRecord(value)) fail(`${at} must be an object like {"word": "dog", "count": 1}`);
  const object = value as Record_;
  const path = (field: string) => `${at}.${field}`;
  const word = requireString(object, 'word', path, fail);
  const count = object.count ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
    fail(`${path('count')} must be a whole number of at least 1`);
  }
  const parsed: PromptObject = { word, count: count as number };
  const countWord = optionalString(object, 'countWord', path, fail);
  if (countWord !== undefined) parsed.countWord = countWord;
  const plural = optionalString(object, 'plural', path, fail);
  if (plural !== undefined) parsed.plural = plural;
  return parsed;
}

function parseAttribute(
  value: unknown,
  at: string,
  objectCount: number,
  fail: (problem: string) => never,
): PromptAttribute {
  if (!isRecord(value)) fail(`${at} must be an object like {"word": "red", "object": 0}`);
  const attribute = value as Record_;
  const word = requireString(attribute, 'word', (field) => `${at}.${field}`, fail);
  const object = attribute.object;
  if (typeof object !== 'number' || !Number.isInteger(object) || object < 0 || object >= objectCount) {
    fail(`${at}.object must be the index of one of the prompt's ${objectCount} objects (from 0)`);
  }
  return { word, object: object as number };
}

function parseQuestion(value: unknown, at: string, fail: (problem: string) => never): TifaQuestion {
  if (!isRecord(value)) fail(`${at} must be an object with question, choices and answer`);
  const question = value as Record_;
  const path = (field: string) => `${at}.${field}`;
  const parsed: TifaQuestion = {
    question: requireString(question, 'question', path, fail),
    choices: stringList(question.choices, path('choices'), fail),
    answer: requireString(question, 'answer', path, fail),
  };
  const category = optionalString(question, 'category', path, fail);
  if (category !== undefined) parsed.category = category;
  const element = optionalString(question, 'element', path, fail);
  if (element !== undefined) parsed.element = element;
  return parsed;
}

function isRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(
  record: Record_,
  field: string,
  path: (field: string) => string,
  fail: (problem: string) => never,
): string {
  const value = record[field];
  if (typeof value !== 'string') fail(`${path(field)} must be a string`);
  return value as string;
}

function optionalString(
  record: Record_,
  field: string,
  path: (field: string) => string,
  fail: (problem: string) => never,
): string | undefined {
  return record[field] === undefined ? undefined : requireString(record, field, path, fail);
}

function listOf(value: unknown, at: string, fail: (problem: string) => never): unknown[] {
  if (!Array.isArray(value)) fail(`${at} must be a list`);
  return value as unknown[];
}

function stringList(value: unknown, at: string, fail: (problem: string) => never): string[] {
  const list = listOf(value, at, fail);
  if (list.length === 0 || !list.every((item) => typeof item === 'string')) {
    fail(`${at} must be a non-empty list of strings`);
  }
  return list as string[];
}

function indexList(value: unknown, at: string, minimum: number, fail: (problem: string) => never): number[] {
  const list = listOf(value, at, fail);
  const valid = (item: unknown) => typeof item === 'number' && Number.isInteger(item) && item >= minimum;
  if (list.length === 0 || !list.every(valid)) {
    fail(
      `${at} must be a non-empty list of whole numbers ≥ ${minimum} (official token indices, 0 = start token)`,
    );
  }
  return list as number[];
}
