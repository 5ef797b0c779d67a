/**
 * Reads a BERT (WordPiece) tokenizer folder into the `tokenizer.json` definition that
 * `@huggingface/tokenizers` runs:
 *   - a folder with `tokenizer.json` (real BLIP repos ship one) is used as it is;
 *   - a folder with only `vocab.txt` (+ `tokenizer_config.json`, `special_tokens_map.json`), as the
 *     BLIP fixtures and older repos have, gets the definition transformers' `BertConverter` writes for
 *     it: BertNormalizer (clean text, CJK split, lower case, accents stripped as `strip_accents` says),
 *     BertPreTokenizer, WordPiece with `##` and 100 characters per word, `[CLS] … [SEP]`.
 * The special-token names come from `special_tokens_map.json`, then `tokenizer_config.json`, then
 * BertTokenizer's defaults, as in transformers.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.ts';

/** The parts of a `tokenizer.json` this project writes or checks; the library reads the rest. */
export interface WordPieceTokenizerJson {
  added_tokens: AddedTokenJson[];
  normalizer: Record<string, unknown> | null;
  pre_tokenizer: Record<string, unknown> | null;
  post_processor: Record<string, unknown> | null;
  decoder: Record<string, unknown> | null;
  model: { type: 'WordPiece'; vocab: Record<string, number>; unk_token: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface BertSpecialTokens {
  cls: string;
  sep: string;
  pad: string;
  unk: string;
  mask: string;
}

export interface BertTokenizerDefinition {
  /** The folder, for error messages. */
  source: string;
  tokenizerJson: WordPieceTokenizerJson;
  specialTokens: BertSpecialTokens;
  /** `model_max_length` of tokenizer_config.json (BERT's 512 position embeddings when absent). */
  modelMaxLength: number;
}

const DEFAULT_SPECIAL_TOKENS: BertSpecialTokens = {
  cls: '[CLS]',
  sep: '[SEP]',
  pad: '[PAD]',
  unk: '[UNK]',
  mask: '[MASK]',
};
const DEFAULT_MODEL_MAX_LENGTH = 512;

const FIX_HINT =
  'The folder should be a Hugging Face BERT tokenizer (as in a BLIP model repository: tokenizer.json, ' +
  'or vocab.txt with tokenizer_config.json); download the model again or copy those files from its repository.';

function malformed(source: string, file: string, what: string): UserError {
  return new UserError(`${join(source, file)} is malformed: ${what}. ${FIX_HINT}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJsonObject(text: string, source: string, file: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw malformed(source, file, `not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(json)) throw malformed(source, file, 'expected a JSON object');
  return json;
}

async function readOptional(folder: string, file: string): Promise<string | undefined> {
  try {
    return await readFile(join(folder, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new UserError(`Cannot read ${join(folder, file)}: ${(error as Error).message}`);
  }
}

/**
 * vocab.txt as transformers' `load_vocab` reads it: one token per line (Python's text mode also ends a line
 * at a lone `\r`), the id is the line number, a repeated token keeps its last line.
 */
export function parseVocabTxt(text: string, source: string): Record<string, number> {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw malformed(source, 'vocab.txt', 'it is empty');
  const vocab: Record<string, number> = Object.create(null);
  for (const [id, token] of lines.entries()) vocab[token] = id;
  return vocab;
}

/** A special token is written either as a string or as an AddedToken object with `content`. */
function tokenContent(value: unknown, source: string, file: string, key: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (isPlainObject(value) && typeof value['content'] === 'string') return value['content'];
  throw malformed(source, file, `"${key}" should be a string or an object with "content"`);
}

function readSpecialTokens(
  config: Record<string, unknown>,
  specialMap: Record<string, unknown>,
  source: string,
): BertSpecialTokens {
  const special = (role: keyof BertSpecialTokens): string => {
    const key = `${role}_token`;
    return (
      tokenContent(specialMap[key], source, 'special_tokens_map.json', key) ??
      tokenContent(config[key], source, 'tokenizer_config.json', key) ??
      DEFAULT_SPECIAL_TOKENS[role]
    );
  };
  return {
    cls: special('cls'),
    sep: special('sep'),
    pad: special('pad'),
    unk: special('unk'),
    mask: special('mask'),
  };
}

function readModelMaxLength(config: Record<string, unknown>, source: string): number {
  const value = config['model_max_length'];
  if (value === undefined) return DEFAULT_MODEL_MAX_LENGTH;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 2) {
    throw malformed(source, 'tokenizer_config.json', `"model_max_length" is ${JSON.stringify(value)}`);
  }
  // transformers writes a huge sentinel when no length is known; BERT's position table has 512.
  return value > 1e6 ? DEFAULT_MODEL_MAX_LENGTH : value;
}

function booleanSetting(
  config: Record<string, unknown>,
  key: string,
  fallback: boolean,
  source: string,
): boolean {
  const value = config[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    throw malformed(
      source,
      'tokenizer_config.json',
      `"${key}" should be true or false, not ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The definition transformers' `BertConverter` writes for a slow BertTokenizer with these settings. */
function definitionFromVocab(
  vocab: Record<string, number>,
  config: Record<string, unknown>,
  specialTokens: BertSpecialTokens,
  source: string,
): WordPieceTokenizerJson {
  if (!booleanSetting(config, 'do_basic_tokenize', true, source)) {
    throw malformed(source, 'tokenizer_config.json', '"do_basic_tokenize": false is not supported');
  }
  const neverSplit = config['never_split'];
  if (
    neverSplit !== undefined &&
    neverSplit !== null &&
    !(Array.isArray(neverSplit) && neverSplit.length === 0)
  ) {
    throw malformed(source, 'tokenizer_config.json', '"never_split" is not supported (it should be null)');
  }
  const stripAccents = config['strip_accents'];
  if (stripAccents !== undefined && stripAccents !== null && typeof stripAccents !== 'boolean') {
    throw malformed(source, 'tokenizer_config.json', '"strip_accents" should be null, true or false');
  }

  const added_tokens: AddedTokenJson[] = [];
  for (const role of ['pad', 'unk', 'cls', 'sep', 'mask'] as const) {
    const content = specialTokens[role];
    const id = vocab[content];
    if (id === undefined) {
      throw malformed(
        source,
        'vocab.txt',
        `the ${role} token ${JSON.stringify(content)} is not in the vocabulary`,
      );
    }
    added_tokens.push(specialAddedToken(id, content));
  }
  added_tokens.sort((a, b) => a.id - b.id);

  return {
    version: '1.0',
    added_tokens,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: booleanSetting(config, 'tokenize_chinese_chars', true, source),
      strip_accents: stripAccents ?? null,
      lowercase: booleanSetting(config, 'do_lower_case', true, source),
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'BertProcessing',
      cls: [specialTokens.cls, vocab[specialTokens.cls]],
      sep: [specialTokens.sep, vocab[specialTokens.sep]],
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: specialTokens.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

export function specialAddedToken(id: number, content: string): AddedTokenJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** Checks the fields of a tokenizer.json that BertTokenizer relies on. */
function checkTokenizerJson(json: Record<string, unknown>, source: string): WordPieceTokenizerJson {
  const file = 'tokenizer.json';
  const model = json['model'];
  if (!isPlainObject(model)) throw malformed(source, file, 'it has no "model" object');
  if (model['type'] !== 'WordPiece') {
    throw malformed(
      source,
      file,
      `its model is ${JSON.stringify(model['type'])}, but a BERT tokenizer needs "WordPiece"`,
    );
  }
  const vocab = model['vocab'];
  if (!isPlainObject(vocab) || Object.keys(vocab).length === 0) {
    throw malformed(source, file, '"model.vocab" should be a non-empty object of token -> id');
  }
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw malformed(source, file, `vocabulary token ${JSON.stringify(token)} has id ${JSON.stringify(id)}`);
    }
  }
  if (typeof model['unk_token'] !== 'string')
    throw malformed(source, file, '"model.unk_token" should be a string');
  const addedTokens = json['added_tokens'] ?? [];
  if (!Array.isArray(addedTokens)) throw malformed(source, file, '"added_tokens" should be a list');
  for (const token of addedTokens) {
    if (!isPlainObject(token) || typeof token['content'] !== 'string' || !Number.isInteger(token['id'])) {
      throw malformed(
        source,
        file,
        'every entry of "added_tokens" needs a string "content" and an integer "id"',
      );
    }
  }
  for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
    if (json[key] !== undefined && json[key] !== null && !isPlainObject(json[key])) {
      throw malformed(source, file, `"${key}" should be an object or null`);
    }
  }
  return {
    ...json,
    added_tokens: addedTokens as AddedTokenJson[],
    normalizer: (json['normalizer'] ?? null) as Record<string, unknown> | null,
    pre_tokenizer: (json['pre_tokenizer'] ?? null) as Record<string, unknown> | null,
    post_processor: (json['post_processor'] ?? null) as Record<string, unknown> | null,
    decoder: (json['decoder'] ?? null) as Record<string, unknown> | null,
    model: model as WordPieceTokenizerJson['model'],
  };
}

/** Reads and checks the tokenizer files of `folder` (a BLIP model folder or its tokenizer files). */
export async function readBertTokenizerFolder(folder: string): Promise<BertTokenizerDefinition> {
  const info = await stat(folder).catch(() => null);
  if (!info?.isDirectory())
    throw new UserError(`The BERT tokenizer folder ${folder} does not exist. ${FIX_HINT}`);

  const configText = await readOptional(folder, 'tokenizer_config.json');
  const specialMapText = await readOptional(folder, 'special_tokens_map.json');
  const config = configText === undefined ? {} : parseJsonObject(configText, folder, 'tokenizer_config.json');
  const specialMap =
    specialMapText === undefined ? {} : parseJsonObject(specialMapText, folder, 'special_tokens_map.json');
  const specialTokens = readSpecialTokens(config, specialMap, folder);
  const modelMaxLength = readModelMaxLength(config, folder);

  const tokenizerJsonText = await readOptional(folder, 'tokenizer.json');
  if (tokenizerJsonText !== undefined) {
    const json = checkTokenizerJson(parseJsonObject(tokenizerJsonText, folder, 'tokenizer.json'), folder);
    for (const [role, content] of Object.entries(specialTokens)) {
      const known =
        json.model.vocab[content] !== undefined ||
        json.added_tokens.some((token) => token.content === content);
      if (!known) {
        throw malformed(
          folder,
          'tokenizer.json',
          `the ${role} token ${JSON.stringify(content)} is not in it`,
        );
      }
    }
    return { source: folder, tokenizerJson: json, specialTokens, modelMaxLength };
  }

  const vocabText = await readOptional(folder, 'vocab.txt');
  if (vocabText === undefined) {
    throw new UserError(
      `${folder} has neither tokenizer.json nor vocab.txt, so it holds no BERT tokenizer. ${FIX_HINT}`,
    );
  }
  const vocab = parseVocabTxt(vocabText, folder);
  return {
    source: folder,
    tokenizerJson: definitionFromVocab(vocab, config, specialTokens, folder),
    specialTokens,
    modelMaxLength,
  };
}
