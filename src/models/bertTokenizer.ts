/**
 * BERT uncased WordPiece tokenizer, as BLIP uses it, giving the ids of transformers' slow `BertTokenizer`
 * (4.33) and of `BlipProcessor` (`[CLS] … [SEP]`, no token type ids, no truncation unless asked):
 *   1. Special tokens typed in the text (`[CLS]`, `[SEP]`, `[MASK]`, `[PAD]`, `[UNK]`, exact case) are
 *      kept as their ids; `[sep]` is ordinary text.
 *   2. The rest is cleaned (control characters dropped, whitespace unified), CJK characters are split
 *      off, the text is lower-cased and accents stripped (NFD, marks dropped), split at whitespace and
 *      punctuation, and each word goes through greedy longest-match-first WordPiece (`##` pieces; a word
 *      over 100 characters or with no match is `[UNK]`).
 *   3. `[CLS]` + pieces + `[SEP]`, truncated to `maxLength` only when asked, padded with `[PAD]` in batches.
 * Steps 1-2 run in `@huggingface/tokenizers`. BLIP's models have two rows more than the vocabulary:
 * 30522 = `[DEC]` (decoder start) and 30523 = `[ENC]`, which BLIP/LAVIS add as special tokens; `decode`
 * always knows them (LAVIS's behaviour: `skipSpecialTokens` drops `[DEC]`), and `lavisSpecialTokens`
 * also makes a typed `[DEC]` / `[ENC]` encode to them, as LAVIS's tokenizer does.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { UserError } from '../errors.ts';
import {
  type BertSpecialTokens,
  type BertTokenizerDefinition,
  readBertTokenizerFolder,
  specialAddedToken,
  type WordPieceTokenizerJson,
} from './bertTokenizerFiles.ts';

export interface BertEncodeOptions {
  /** Wrap the pieces in `[CLS] … [SEP]` (default true). */
  addSpecialTokens?: boolean;
  /** Cut the pieces so that the result has at most `maxLength` ids (default false, as BlipProcessor). */
  truncation?: boolean;
  /** Defaults to the tokenizer's `model_max_length` (512 for BLIP). */
  maxLength?: number;
}

export interface BertBatchOptions extends BertEncodeOptions {
  /** `true`: pad to the longest text (transformers' `padding=True`); `'max_length'`: pad to `maxLength`. */
  padding?: boolean | 'max_length';
}

export interface BertBatchEncoding {
  inputIds: number[][];
  /** 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
}

export interface BertDecodeOptions {
  /** Drop `[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`, `[DEC]`, `[ENC]` (default false). */
  skipSpecialTokens?: boolean;
  /** transformers' `clean_up_tokenization_spaces` (default true): "a , b" -> "a, b". */
  cleanUpTokenizationSpaces?: boolean;
}

export interface BertFolderOptions {
  /** Encode a typed `[DEC]` / `[ENC]` as their ids, as the BLIP/LAVIS tokenizer does (default false, as the HF files). */
  lavisSpecialTokens?: boolean;
}

/** The BLIP/LAVIS tokens, appended after the vocabulary by `tokenizer.add_special_tokens`. */
const BLIP_DECODER_TOKEN = '[DEC]';
const BLIP_ENCODER_TOKEN = '[ENC]';

/**
 * CJK ideographs outside the Basic Multilingual Plane (BERT's `_is_chinese_char` ranges above U+FFFF).
 * The library's BertNormalizer tests UTF-16 code units, so it never splits these; spacing them here does
 * what BERT's `_tokenize_chinese_chars` does ("a𠀀b" -> "a", "𠀀", "b").
 */
const ASTRAL_CJK = /[\u{20000}-\u{2A6DF}\u{2A700}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;
/**
 * Unassigned code points: BERT's `_clean_text` drops every category "C*" character, the library's drops
 * Cc, Cf, Co and Cs but keeps Cn.
 */
const UNASSIGNED = /\p{Cn}/gu;

/** The replacements of transformers' `clean_up_tokenization`, in its order. */
const CLEAN_UP_REPLACEMENTS: [string, string][] = [
  [' .', '.'],
  [' ?', '?'],
  [' !', '!'],
  [' ,', ','],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

export function cleanUpTokenization(text: string): string {
  let out = text;
  for (const [from, to] of CLEAN_UP_REPLACEMENTS) out = out.replaceAll(from, to);
  return out;
}

export class BertTokenizer {
  readonly clsTokenId: number;
  readonly sepTokenId: number;
  readonly padTokenId: number;
  readonly unkTokenId: number;
  readonly maskTokenId: number;
  /** BLIP's decoder start token (30522 for bert-base-uncased). */
  readonly decTokenId: number;
  /** BLIP's `[ENC]` (30523 for bert-base-uncased). */
  readonly encTokenId: number;
  /** Number of ids in the vocabulary file(s), without `[DEC]` / `[ENC]` unless they are there. */
  readonly vocabSize: number;
  readonly modelMaxLength: number;
  readonly specialTokens: BertSpecialTokens;

  private readonly library: Tokenizer;
  private readonly cleansText: boolean;
  private readonly splitsChineseChars: boolean;
  private readonly tokenOfId = new Map<number, string>();
  private readonly specialIds = new Set<number>();
  private readonly specialsAdded: number;

  constructor(definition: BertTokenizerDefinition, options: BertFolderOptions = {}) {
    // Only added_tokens is changed below; the vocabulary object is shared with the definition.
    const json = { ...definition.tokenizerJson, added_tokens: [...definition.tokenizerJson.added_tokens] };
    const { source, specialTokens } = definition;
    this.specialTokens = specialTokens;
    this.modelMaxLength = definition.modelMaxLength;

    const idOf = (token: string): number | undefined =>
      json.added_tokens.find((t) => t.content === token)?.id ??
      (Object.hasOwn(json.model.vocab, token) ? json.model.vocab[token] : undefined);
    let largestId = -1;
    for (const [token, id] of Object.entries(json.model.vocab)) this.tokenOfId.set(id, token);
    for (const added of json.added_tokens) this.tokenOfId.set(added.id, added.content);
    for (const id of this.tokenOfId.keys()) largestId = Math.max(largestId, id);
    this.vocabSize = largestId + 1;

    const extraIds = new Map<string, number>();
    let nextId = this.vocabSize;
    for (const token of [BLIP_DECODER_TOKEN, BLIP_ENCODER_TOKEN]) {
      const id = idOf(token) ?? nextId++;
      extraIds.set(token, id);
      if (!this.tokenOfId.has(id)) this.tokenOfId.set(id, token);
      if (options.lavisSpecialTokens && !json.added_tokens.some((t) => t.content === token)) {
        json.added_tokens.push(specialAddedToken(id, token));
      }
    }
    this.decTokenId = extraIds.get(BLIP_DECODER_TOKEN)!;
    this.encTokenId = extraIds.get(BLIP_ENCODER_TOKEN)!;

    const required = (role: keyof BertSpecialTokens): number => {
      const id = idOf(specialTokens[role]);
      if (id === undefined)
        throw new UserError(`${source}: the ${role} token ${specialTokens[role]} has no id`);
      return id;
    };
    this.clsTokenId = required('cls');
    this.sepTokenId = required('sep');
    this.padTokenId = required('pad');
    this.unkTokenId = required('unk');
    this.maskTokenId = required('mask');
    for (const id of [this.clsTokenId, this.sepTokenId, this.padTokenId, this.unkTokenId, this.maskTokenId]) {
      this.specialIds.add(id);
    }
    this.specialIds.add(this.decTokenId);
    this.specialIds.add(this.encTokenId);
    for (const added of json.added_tokens) if (added.special) this.specialIds.add(added.id);

    const normalizer = json.normalizer;
    const isBert = normalizer?.['type'] === 'BertNormalizer';
    this.cleansText = isBert && normalizer['clean_text'] !== false;
    this.splitsChineseChars = isBert && normalizer['handle_chinese_chars'] !== false;

    this.library = createLibraryTokenizer(json, source);
    this.specialsAdded = this.addSpecialTokens([]).length;
  }

  /** Loads `tokenizer.json`, or `vocab.txt` + `tokenizer_config.json`, from a BLIP model folder. */
  static async fromFolder(folder: string, options: BertFolderOptions = {}): Promise<BertTokenizer> {
    return new BertTokenizer(await readBertTokenizerFolder(folder), options);
  }

  /** Token ids, like `tokenizer(text)["input_ids"]` (add_special_tokens=True, no truncation by default). */
  encode(text: string, options: BertEncodeOptions = {}): number[] {
    return this.encodeWithTokens(text, options).inputIds;
  }

  /** Ids and their vocabulary strings (`convert_ids_to_tokens(input_ids)`). */
  encodeWithTokens(text: string, options: BertEncodeOptions = {}): { inputIds: number[]; tokens: string[] } {
    const { addSpecialTokens = true, truncation = false, maxLength = this.modelMaxLength } = options;
    checkMaxLength(maxLength, addSpecialTokens ? this.specialsAdded : 0);
    let pieces: string[] = this.library.tokenize(this.prepareText(text), { add_special_tokens: false });
    if (truncation) pieces = pieces.slice(0, maxLength - (addSpecialTokens ? this.specialsAdded : 0));
    const tokens: string[] = addSpecialTokens ? this.addSpecialTokens(pieces) : pieces;
    return { inputIds: tokens.map((token) => this.idOfToken(token)), tokens };
  }

  /** Several texts, padded on the right with `[PAD]` like `tokenizer(texts, padding=...)`. */
  encodeBatch(texts: string[], options: BertBatchOptions = {}): BertBatchEncoding {
    const { padding = true, maxLength = this.modelMaxLength } = options;
    const rows = texts.map((text) => this.encode(text, options));
    const longest = Math.max(0, ...rows.map((row) => row.length));
    const width = padding === 'max_length' ? maxLength : padding ? longest : 0;
    const inputIds = rows.map((row) => [
      ...row,
      ...new Array(Math.max(0, width - row.length)).fill(this.padTokenId),
    ]);
    if (new Set(inputIds.map((row) => row.length)).size > 1) {
      const lengths = rows.map((row) => row.length).join(', ');
      throw new UserError(
        padding === 'max_length'
          ? `A text has more than maxLength ${maxLength} ids (the texts have ${lengths}): pass truncation: true, or a larger maxLength.`
          : `The texts have ${lengths} ids and padding is off: pass padding: true so that the rows have one length.`,
      );
    }
    const attentionMask = rows.map((row, index) => inputIds[index]!.map((_, i) => (i < row.length ? 1 : 0)));
    return { inputIds, attentionMask };
  }

  /**
   * Text of token ids, by BertTokenizer's rules: tokens joined by spaces, `##` pieces glued to the one
   * before (a leading `##piece` stays as it is), then `clean_up_tokenization`. An id outside the
   * vocabulary reads as `[UNK]` and is kept even when skipping special tokens, as transformers' slow
   * tokenizer does.
   */
  decode(ids: readonly number[], options: BertDecodeOptions = {}): string {
    const { skipSpecialTokens = false, cleanUpTokenizationSpaces = true } = options;
    // By hand rather than the library's decode: that one throws on an empty list, turns unknown ids into
    // [UNK] and then skips them as special, and knows [DEC]/[ENC] only if they also encode when typed.
    const tokens: string[] = [];
    for (const id of ids) {
      if (!Number.isInteger(id)) throw new UserError(`Cannot decode token id ${id}: ids are integers`);
      if (skipSpecialTokens && this.specialIds.has(id)) continue;
      tokens.push(this.tokenOfId.get(id) ?? this.specialTokens.unk);
    }
    const text = tokens.join(' ').replaceAll(' ##', '').trim();
    return cleanUpTokenizationSpaces ? cleanUpTokenization(text) : text;
  }

  /** The vocabulary string of an id (`[DEC]` / `[ENC]` included), or undefined. */
  idToToken(id: number): string | undefined {
    return this.tokenOfId.get(id);
  }

  /** The id of a vocabulary string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.library.token_to_id(token);
  }

  private idOfToken(token: string): number {
    return this.library.token_to_id(token) ?? this.unkTokenId;
  }

  private addSpecialTokens(pieces: string[]): string[] {
    const processor = this.library.post_processor;
    if (processor === null) return [this.specialTokens.cls, ...pieces, this.specialTokens.sep];
    return processor.post_process(pieces, null, true).tokens;
  }

  /** Closes the two gaps between the library's BertNormalizer and BERT's (see ASTRAL_CJK, UNASSIGNED). */
  private prepareText(text: string): string {
    let out = text;
    if (this.cleansText) out = out.replace(UNASSIGNED, '');
    if (this.splitsChineseChars) out = out.replace(ASTRAL_CJK, ' $& ');
    return out;
  }
}

function checkMaxLength(maxLength: number, specials: number): void {
  if (!Number.isInteger(maxLength) || maxLength <= specials) {
    throw new UserError(
      `maxLength must be an integer above ${specials} (the special tokens), not ${maxLength}`,
    );
  }
}

function createLibraryTokenizer(json: WordPieceTokenizerJson, source: string): Tokenizer {
  try {
    return new Tokenizer(json, {});
  } catch (error) {
    throw new UserError(`${source}/tokenizer.json cannot be loaded: ${(error as Error).message}`);
  }
}
