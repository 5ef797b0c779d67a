/**
 * Turns prompt lists into prompt sets (`dnb benchmark import`). It reads:
 *   - plain text, one prompt per line (the D&B authors' files);
 *   - a zip of such files, one per category, named by it (`Animal-Scene.txt`): one set per file;
 *   - a JSON list of strings, or of {prompt, tokenIndices?, attributeIndices?} objects;
 *   - CSV with a `prompt` column and optional `token_indices` / `attribute_indices` columns ("2,5").
 * Each prompt's structure comes from its token indices where the file gives them, else from the automatic
 * token selection (src/prompt/automaticSelection.ts); `structureSource` says which.
 */
import { basename, extname } from 'node:path';
import { unzipSync } from 'fflate';
import { UserError } from '../errors.ts';
import type { ClipEncoding, ClipTokenizer } from '../models/clipTokenizer.ts';
import { numberOfWord } from '../prompt/numberWords.ts';
import { selectTokens, type TokenSelection } from '../prompt/tokenSelection.ts';
import type { BenchmarkPrompt, PromptAttribute, PromptObject, PromptSet } from './promptSet.ts';
import { CsvError, parseCsv } from './promptSetCsv.ts';
import { uniquePromptIds } from './promptSetIds.ts';

/** One prompt of a list, as the file gives it; `where` locates it in messages ("prompts.txt: line 3"). */
export interface ListedPrompt {
  prompt: string;
  tokenIndices?: number[];
  attributeIndices?: number[];
  where: string;
}

/** The prompts of one file; `category` is the file's name inside a zip. */
export interface PromptList {
  category?: string;
  prompts: ListedPrompt[];
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/** The lists in a file's bytes, by its content (zip) and its extension (.json, .csv, else text). */
export function readPromptLists(bytes: Uint8Array, fileName: string): PromptList[] {
  const fail = (problem: string): never => {
    throw new UserError(`${fileName}: ${problem}`);
  };
  if (ZIP_MAGIC.every((byte, i) => bytes[i] === byte)) return readZip(bytes, fileName, fail);
  if (bytes.length === 0) fail('the file is empty; give one prompt per line');
  const text = utf8(bytes, fail);
  const extension = extname(fileName).toLowerCase();
  const prompts =
    extension === '.json'
      ? readJsonList(text, fail)
      : extension === '.csv'
        ? readCsvList(text, fail)
        : readTextList(text);
  if (prompts.length === 0) fail('the file holds no prompt');
  return [{ prompts: located(prompts, fileName) }];
}

function readZip(bytes: Uint8Array, fileName: string, fail: (problem: string) => never): PromptList[] {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (error) {
    return fail(`it is not a readable zip (${(error as Error).message})`);
  }
  const names = Object.keys(files).filter((name) => !name.endsWith('/') && !name.startsWith('__MACOSX/'));
  const textFiles = names.filter(
    (name) => name.toLowerCase().endsWith('.txt') && !basename(name).startsWith('.'),
  );
  if (textFiles.length === 0) {
    fail(
      `the zip holds no .txt file (it has ${names.length === 0 ? 'no files' : names.join(', ')}); ` +
        'give one text file per category, one prompt per line',
    );
  }
  return textFiles.map((name) => {
    const inner = (problem: string): never => fail(`${name}: ${problem}`);
    const prompts = readTextList(utf8(files[name], inner));
    if (prompts.length === 0) inner('the file holds no prompt');
    return { category: basename(name, extname(name)), prompts: located(prompts, `${fileName}: ${name}`) };
  });
}

/** "line 3" -> "prompts.txt: line 3", so a prompt's error names its file. */
function located(prompts: ListedPrompt[], file: string): ListedPrompt[] {
  return prompts.map((listed) => ({ ...listed, where: `${file}: ${listed.where}` }));
}

function utf8(bytes: Uint8Array, fail: (problem: string) => never): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return fail('it is not UTF-8 text');
  }
}

function readTextList(text: string): ListedPrompt[] {
  return text
    .split(/\r?\n/)
    .map((line, i) => ({ prompt: line.trim(), where: `line ${i + 1}` }))
    .filter((entry) => entry.prompt !== '');
}

const JSON_FIELDS = ['prompt', 'tokenIndices', 'attributeIndices'];

function readJsonList(text: string, fail: (problem: string) => never): ListedPrompt[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(`it is not valid JSON (${(error as Error).message.replace(/\s+/g, ' ')})`);
  }
  if (!Array.isArray(value)) {
    const promptSet = typeof value === 'object' && value !== null && ('prompts' in value || 'sets' in value);
    fail(
      promptSet
        ? 'it is a prompt-set file already; give it to `dnb benchmark run --prompts` as it is'
        : 'a JSON import must be a list of prompts (strings, or {"prompt", "tokenIndices", "attributeIndices"} objects)',
    );
  }
  return (value as unknown[]).map((item, i) => {
    const where = `item ${i + 1}`;
    if (typeof item === 'string') return { prompt: item.trim(), where };
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return fail(`${where} is neither a string nor an object with a "prompt"`);
    }
    const entry = item as Record<string, unknown>;
    const unknown = Object.keys(entry).filter((key) => !JSON_FIELDS.includes(key));
    if (unknown.length > 0)
      fail(`${where} has the unknown field "${unknown[0]}"; the fields are ${JSON_FIELDS.join(', ')}`);
    if (typeof entry.prompt !== 'string' || entry.prompt.trim() === '') fail(`${where} has no "prompt" text`);
    const listed: ListedPrompt = { prompt: (entry.prompt as string).trim(), where };
    for (const field of ['tokenIndices', 'attributeIndices'] as const) {
      const indices = entry[field];
      if (indices === undefined) continue;
      if (!Array.isArray(indices) || !indices.every((index) => Number.isInteger(index))) {
        fail(
          `${where}: "${field}" must be a list of whole numbers (official token indices, 0 = start token)`,
        );
      }
      listed[field] = indices as number[];
    }
    return listed;
  });
}

function readCsvList(text: string, fail: (problem: string) => never): ListedPrompt[] {
  let rows: ReturnType<typeof parseCsv>;
  try {
    rows = parseCsv(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    if (error instanceof CsvError) return fail(`bad CSV at ${error.message}`);
    throw error;
  }
  if (rows.length === 0) fail('the file holds no prompt');
  const header = rows[0].fields.map((name) => name.trim().toLowerCase());
  const column = (name: string) => header.indexOf(name);
  const promptColumn = column('prompt');
  if (promptColumn < 0) {
    fail(
      `the CSV header (${rows[0].fields.join(', ')}) has no "prompt" column; name the prompts' column "prompt"`,
    );
  }
  const indexColumns = {
    tokenIndices: column('token_indices'),
    attributeIndices: column('attribute_indices'),
  };
  return rows.slice(1).map(({ line, fields }) => {
    const where = `line ${line}`;
    if (fields.length !== header.length) {
      fail(
        `${where} has ${fields.length} fields, the header ${header.length} (a comma inside a field needs quotes)`,
      );
    }
    const listed: ListedPrompt = { prompt: fields[promptColumn].trim(), where };
    if (listed.prompt === '') fail(`${where} has an empty prompt`);
    for (const [field, at] of Object.entries(indexColumns) as [keyof typeof indexColumns, number][]) {
      if (at < 0 || fields[at].trim() === '') continue;
      listed[field] = indexList(fields[at], `${where}: ${header[at]}`, fail);
    }
    return listed;
  });
}

/** "2,5", "[2, 5]", "2 5" -> [2, 5]. */
function indexList(text: string, where: string, fail: (problem: string) => never): number[] {
  const parts = text
    .trim()
    .replace(/^\[|\]$/g, '')
    .split(/[\s,;]+/)
    .filter(Boolean);
  if (parts.length === 0 || !parts.every((part) => /^\d+$/.test(part))) {
    fail(`${where} "${text}" is not a list of token indices like "2,5"`);
  }
  return parts.map(Number);
}

/** What a set made by the import is called and where it came from. */
export interface ImportNaming {
  name: string;
  label: string;
  source: string;
}

/**
 * A prompt set from one list: each prompt's objects and attributes are the tokens its indices name, or those
 * of the automatic selection, and the stated count of each object ("two dogs") is read off the words before it.
 */
export function importPromptList(
  tokenizer: ClipTokenizer,
  list: PromptList,
  naming: ImportNaming,
): PromptSet {
  const ids = uniquePromptIds(list.prompts.map((listed) => listed.prompt));
  const prompts = list.prompts.map((listed, i) => importPrompt(tokenizer, listed, ids[i], list.category));
  return { ...naming, reconstructed: false, generatedBy: 'dnb benchmark import', prompts };
}

function importPrompt(
  tokenizer: ClipTokenizer,
  listed: ListedPrompt,
  id: string,
  category: string | undefined,
): BenchmarkPrompt {
  const given = listed.tokenIndices !== undefined;
  let selection: TokenSelection;
  try {
    selection = selectTokens(tokenizer, listed.prompt, {
      tokenIndices: listed.tokenIndices,
      attributeIndices: listed.attributeIndices,
    });
  } catch (error) {
    if (error instanceof UserError) throw new UserError(`${listed.where}: ${error.message}`);
    throw error;
  }
  const encoding = tokenizer.encode(listed.prompt);
  const objects: PromptObject[] = selection.objects.map((token) => ({
    word: token.word,
    ...statedCount(encoding, encoding.positions[token.index].wordIndex),
  }));
  const attributes: PromptAttribute[] = selection.attributes.flatMap((token, object) =>
    token === null ? [] : [{ word: token.word, object }],
  );
  const prompt: BenchmarkPrompt = { id, text: listed.prompt, objects, attributes };
  prompt.tokenIndices = selection.tokenIndices;
  if (attributes.length > 0) prompt.attributeIndices = selection.attributeIndices;
  prompt.structureSource = given ? 'given' : 'automatic';
  if (category !== undefined) prompt.category = category;
  return prompt;
}

/** Words between a number and its noun ("three big red cars") that do not end the phrase. */
const MAX_MODIFIERS = 3;

/** The count a number word (or digit) before the object states, within its phrase; 1 without one. */
function statedCount(encoding: ClipEncoding, wordIndex: number): { count: number; countWord?: string } {
  for (let j = wordIndex - 1; j >= Math.max(0, wordIndex - 1 - MAX_MODIFIERS); j -= 1) {
    const text = encoding.words[j].text;
    const count = numberOfWord(text) ?? (/^\d$/.test(text) ? Number(text) : undefined);
    if (count !== undefined) return count >= 1 ? { count, countWord: text } : { count: 1 };
    // A determiner, a conjunction or punctuation starts the phrase: no number stated in it.
    if (/^(a|an|the|and|or|with|of|in|on|at)$/.test(text) || !/\p{L}/u.test(text)) break;
  }
  return { count: 1 };
}
