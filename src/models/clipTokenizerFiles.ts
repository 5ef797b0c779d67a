/**
 * Reads and checks a Hugging Face CLIP `tokenizer/` folder: `vocab.json`, `merges.txt` (required),
 * `tokenizer_config.json` and `special_tokens_map.json` (optional; special tokens fall back to
 * CLIPTokenizer's defaults). `special_tokens_map.json` wins over `tokenizer_config.json`, as in
 * transformers. `parseClipTokenizerFiles` works on strings, so a browser can use it too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSyntaxReason, UserError } from '../errors.ts';

export interface ClipTokenizerFileTexts {
  vocabJson: string;
  mergesTxt: string;
  tokenizerConfigJson?: string;
  specialTokensMapJson?: string;
}

export interface ClipTokenizerData {
  vocab: Map<string, number>;
  /** Merge pairs in rank order (rank = index), as [first, second]. */
  merges: [string, string][];
  bosToken: string;
  eosToken: string;
  padToken: string;
  unkToken: string;
  modelMaxLength: number;
}

/** transformers' slow CLIPTokenizer reads at most this many merges (CLIP's 49152-token vocabulary). */
const MAX_MERGES = 49152 - 256 - 2;
const DEFAULT_MODEL_MAX_LENGTH = 77;

const FIX_HINT =
  'The folder should be a Hugging Face CLIP tokenizer (e.g. the tokenizer/ folder of a Stable Diffusion ' +
  'model); download the model again or copy that folder from the model repository.';

function malformed(source: string, file: string, what: string): UserError {
  return new UserError(`${join(source, file)} is malformed: ${what}. ${FIX_HINT}`);
}

function parseJson(text: string, source: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw malformed(source, file, `not valid JSON (${jsonSyntaxReason(error)})`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseVocab(text: string, source: string): Map<string, number> {
  const json = parseJson(text, source, 'vocab.json');
  if (!isPlainObject(json)) throw malformed(source, 'vocab.json', 'expected a JSON object of token -> id');
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(json)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw malformed(source, 'vocab.json', `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}`);
    }
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw malformed(source, 'vocab.json', 'it is empty');
  return vocab;
}

function parseMerges(text: string, source: string): [string, string][] {
  const lines = text.trim().split('\n');
  // transformers skips the first line unconditionally; insist that it is the version header.
  if (!lines[0]?.startsWith('#version')) {
    throw malformed(source, 'merges.txt', 'the first line should be the "#version: 0.2" header');
  }
  const merges: [string, string][] = [];
  for (const [index, line] of lines.slice(1, 1 + MAX_MERGES).entries()) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2) {
      throw malformed(source, 'merges.txt', `line ${index + 2} should be two tokens separated by a space`);
    }
    merges.push([parts[0]!, parts[1]!]);
  }
  return merges;
}

/** A special token is written either as a string or as an AddedToken object with `content`. */
function tokenContent(value: unknown, source: string, file: string, key: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (isPlainObject(value) && typeof value['content'] === 'string') return value['content'];
  throw malformed(source, file, `"${key}" should be a string or an object with "content"`);
}

function parseConfig(text: string | undefined, source: string, file: string): Record<string, unknown> {
  if (text === undefined) return {};
  const json = parseJson(text, source, file);
  if (!isPlainObject(json)) throw malformed(source, file, 'expected a JSON object');
  return json;
}

export function parseClipTokenizerFiles(files: ClipTokenizerFileTexts, source: string): ClipTokenizerData {
  const vocab = parseVocab(files.vocabJson, source);
  const merges = parseMerges(files.mergesTxt, source);
  const config = parseConfig(files.tokenizerConfigJson, source, 'tokenizer_config.json');
  const specialMap = parseConfig(files.specialTokensMapJson, source, 'special_tokens_map.json');

  const special = (key: string, fallback: string): string =>
    tokenContent(specialMap[key], source, 'special_tokens_map.json', key) ??
    tokenContent(config[key], source, 'tokenizer_config.json', key) ??
    fallback;
  const data: ClipTokenizerData = {
    vocab,
    merges,
    bosToken: special('bos_token', '<|startoftext|>'),
    eosToken: special('eos_token', '<|endoftext|>'),
    padToken: special('pad_token', '<|endoftext|>'),
    unkToken: special('unk_token', '<|endoftext|>'),
    modelMaxLength: DEFAULT_MODEL_MAX_LENGTH,
  };

  const maxLength = config['model_max_length'];
  if (maxLength !== undefined) {
    if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 2) {
      throw malformed(source, 'tokenizer_config.json', `"model_max_length" is ${JSON.stringify(maxLength)}`);
    }
    // transformers writes a huge sentinel when no length is known; CLIP's position table has 77.
    data.modelMaxLength = maxLength > 1e6 ? DEFAULT_MODEL_MAX_LENGTH : maxLength;
  }

  for (const [role, token] of [
    ['bos_token', data.bosToken],
    ['eos_token', data.eosToken],
    ['pad_token', data.padToken],
    ['unk_token', data.unkToken],
  ] as const) {
    if (!vocab.has(token)) {
      throw malformed(source, 'vocab.json', `the ${role} ${JSON.stringify(token)} is not in the vocabulary`);
    }
  }
  return data;
}

function readOptional(folder: string, file: string): string | undefined {
  try {
    return readFileSync(join(folder, file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`Cannot read ${join(folder, file)}: ${(error as Error).message}`);
  }
}

function readRequired(folder: string, file: string): string {
  const text = readOptional(folder, file);
  if (text === undefined) {
    throw new UserError(`The CLIP tokenizer file ${join(folder, file)} is missing. ${FIX_HINT}`);
  }
  return text;
}

/** Reads and checks the tokenizer files of `folder` (a diffusers model's `tokenizer/`). */
export function readClipTokenizerFolder(folder: string): ClipTokenizerData {
  if (!existsSync(folder))
    throw new UserError(`The CLIP tokenizer folder ${folder} does not exist. ${FIX_HINT}`);
  return parseClipTokenizerFiles(
    {
      vocabJson: readRequired(folder, 'vocab.json'),
      mergesTxt: readRequired(folder, 'merges.txt'),
      tokenizerConfigJson: readOptional(folder, 'tokenizer_config.json'),
      specialTokensMapJson: readOptional(folder, 'special_tokens_map.json'),
    },
    folder,
  );
}
