/**
 * CLIP tokenizer, giving the ids that transformers' slow `CLIPTokenizer` (with ftfy installed) gives
 * for `tokenizer(prompt, padding="max_length", max_length=77, truncation=True)`, which is what
 * diffusers' Stable Diffusion pipelines feed the text encoder:
 *   1. The prompt is split at special tokens typed in it (`<|endoftext|>`, and the pad token when it
 *      is a different one, e.g. `!` in SD 2.x: transformers 4.33 never splits those, so a typed `!`
 *      becomes the pad id there, and here too).
 *   2. Each other part is cleaned (`whitespace_clean(fix_text(part)).lower()`, textCleaning.ts), cut into
 *      words by CLIP's regex, and each word's UTF-8 bytes go through byte-level BPE.
 *   3. SOT + at most `modelMaxLength - 2` ids + EOT, then the pad id up to `modelMaxLength`.
 * Besides ids it reports which word each token came from, for choosing object and attribute tokens.
 */
import { BytePairEncoder, END_OF_WORD, fromByteLevel, toByteLevel } from './clipTokenizerBpe.ts';
import {
  type ClipTokenizerData,
  type ClipTokenizerFileTexts,
  parseClipTokenizerFiles,
  readClipTokenizerFolder,
} from './clipTokenizerFiles.ts';
import { cleanClipText } from './textCleaning.ts';

/**
 * CLIP's word pattern as Python's `regex` module runs it with IGNORECASE, on text that is already
 * lower-case. Written without the `i` flag, because JavaScript's case folding inside character classes
 * differs from `regex`'s: `regex` lets U+0345 (which folds to a letter) match neither class, so it is
 * dropped; the only other fold that lower-case text can meet is 'ſ' ~ 's'. `\s` is spelled
 * `\p{White_Space}`, which is what `regex` means by it (JavaScript's `\s` also holds U+FEFF).
 */
const CLIP_WORD =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: U+0345 is excluded on its own, on purpose.
  /<\|[sſ]tartoftext\|>|<\|endoftext\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\p{White_Space}\p{L}\p{N}\u0345]+/gu;

/** One word of the cleaned prompt: a piece of CLIP's regex, or a special token typed in the prompt. */
export interface ClipWord {
  /** The word as BPE saw it (cleaned and lower-cased). */
  text: string;
  /** Character span [start, end) of the word in `cleanedText`. */
  start: number;
  end: number;
  /** Typed special token (`<|endoftext|>`, ...), not BPE-encoded. */
  special: boolean;
  /** Its token positions in `inputIds` (empty when truncation dropped it). */
  tokenIndices: number[];
}

/** One position of `inputIds` that is not padding. */
export interface ClipTokenPosition {
  /** Index into `inputIds` (0 is the start token). */
  index: number;
  id: number;
  /** The vocabulary string, e.g. `dog</w>`. */
  token: string;
  /** The token as text, without `</w>` (a piece of a multi-byte character shows as U+FFFD). */
  text: string;
  /** Index into `words`, or -1 for the start and end tokens. */
  wordIndex: number;
}

export interface ClipTruncation {
  /** Number of ids the untruncated prompt has, with the start and end tokens. */
  untruncatedLength: number;
  droppedCount: number;
  /** The dropped tokens decoded back to text. */
  droppedText: string;
}

export interface ClipEncoding {
  /** `modelMaxLength` ids: SOT, at most `modelMaxLength - 2` BPE ids, EOT, pad ids. */
  inputIds: number[];
  /** 1 for SOT, BPE tokens and EOT, 0 for padding (SD 1.x does not pass it to the text encoder). */
  attentionMask: number[];
  /** SOT, every BPE token (none dropped) and EOT, as vocabulary strings. */
  tokens: string[];
  /** SOT, every BPE id (none dropped) and EOT. */
  untruncatedIds: number[];
  /** What truncation dropped, so the caller can warn; null when everything fit. */
  truncated: ClipTruncation | null;
  /** The prompt after cleaning: the cleaned parts and typed special tokens, joined by spaces. */
  cleanedText: string;
  words: ClipWord[];
  /** One entry per non-padding position of `inputIds`. */
  positions: ClipTokenPosition[];
}

export interface ClipDecodeOptions {
  skipSpecialTokens?: boolean;
  /** transformers' `clean_up_tokenization_spaces` (on by default there): "a , b" -> "a, b". */
  cleanUpTokenizationSpaces?: boolean;
}

interface WordTokens {
  word: Omit<ClipWord, 'tokenIndices'>;
  tokens: string[];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class ClipTokenizer {
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly unkTokenId: number;
  readonly modelMaxLength: number;
  readonly vocabSize: number;

  private readonly vocab: Map<string, number>;
  private readonly tokenOfId = new Map<number, string>();
  private readonly specialTokens: Set<string>;
  private readonly specialTokenSplitter: RegExp;
  private readonly bpe: BytePairEncoder;

  constructor(data: ClipTokenizerData) {
    this.vocab = data.vocab;
    for (const [token, id] of data.vocab) this.tokenOfId.set(id, token);
    this.vocabSize = data.vocab.size;
    this.modelMaxLength = data.modelMaxLength;
    this.bosTokenId = data.vocab.get(data.bosToken)!;
    this.eosTokenId = data.vocab.get(data.eosToken)!;
    this.padTokenId = data.vocab.get(data.padToken)!;
    this.unkTokenId = data.vocab.get(data.unkToken)!;
    this.specialTokens = new Set([data.bosToken, data.eosToken, data.unkToken, data.padToken]);
    // Longest first, so a special token that contains another one wins.
    const alternatives = [...this.specialTokens].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.specialTokenSplitter = new RegExp(`(${alternatives.join('|')})`);
    // CLIP's BPE cache starts with these two, so typing them after cleaning still gives their ids.
    this.bpe = new BytePairEncoder(data.merges, ['<|startoftext|>', '<|endoftext|>']);
  }

  /** Loads a Hugging Face `tokenizer/` folder (vocab.json, merges.txt, and its JSON configs). */
  static fromFolder(folder: string): ClipTokenizer {
    return new ClipTokenizer(readClipTokenizerFolder(folder));
  }

  /** Builds a tokenizer from the files' contents (e.g. fetched in a browser); `source` names them in errors. */
  static fromFileTexts(files: ClipTokenizerFileTexts, source = 'tokenizer'): ClipTokenizer {
    return new ClipTokenizer(parseClipTokenizerFiles(files, source));
  }

  /** Tokenizes, truncates and pads like `tokenizer(prompt, padding="max_length", truncation=True)`. */
  encode(prompt: string): ClipEncoding {
    const { cleanedText, wordTokens } = this.splitIntoWords(prompt);
    const maxBpeTokens = this.modelMaxLength - 2;

    const tokens: string[] = [];
    const words: ClipWord[] = [];
    const positions: ClipTokenPosition[] = [this.position(0, this.bosTokenId, -1)];
    for (const [wordIndex, { word, tokens: wordPieces }] of wordTokens.entries()) {
      const tokenIndices: number[] = [];
      for (const token of wordPieces) {
        tokens.push(token);
        if (tokens.length <= maxBpeTokens) {
          tokenIndices.push(tokens.length);
          positions.push(this.position(tokens.length, this.idOf(token), wordIndex));
        }
      }
      words.push({ ...word, tokenIndices });
    }

    const bpeIds = tokens.map((token) => this.idOf(token));
    const keptIds = bpeIds.slice(0, maxBpeTokens);
    const droppedIds = bpeIds.slice(maxBpeTokens);
    positions.push(this.position(keptIds.length + 1, this.eosTokenId, -1));

    const used = keptIds.length + 2;
    const inputIds = [this.bosTokenId, ...keptIds, this.eosTokenId];
    const attentionMask = new Array<number>(used).fill(1);
    while (inputIds.length < this.modelMaxLength) {
      inputIds.push(this.padTokenId);
      attentionMask.push(0);
    }

    return {
      inputIds,
      attentionMask,
      tokens: [this.tokenOf(this.bosTokenId), ...tokens, this.tokenOf(this.eosTokenId)],
      untruncatedIds: [this.bosTokenId, ...bpeIds, this.eosTokenId],
      truncated:
        droppedIds.length === 0
          ? null
          : {
              untruncatedLength: bpeIds.length + 2,
              droppedCount: droppedIds.length,
              droppedText: this.decode(droppedIds),
            },
      cleanedText,
      words,
      positions,
    };
  }

  /** Ids back to text: tokens joined, `</w>` read as a space, like transformers' `decode`. */
  decode(ids: readonly number[], options: ClipDecodeOptions = {}): string {
    const { skipSpecialTokens = false, cleanUpTokenizationSpaces = true } = options;
    const specialIds = new Set([...this.specialTokens].map((token) => this.vocab.get(token)));
    const kept = skipSpecialTokens ? ids.filter((id) => !specialIds.has(id)) : ids;
    const joined = kept.map((id) => this.tokenOf(id)).join('');
    const text = fromByteLevel(joined).replaceAll(END_OF_WORD, ' ').trim();
    return cleanUpTokenizationSpaces ? cleanUpSpaces(text) : text;
  }

  private splitIntoWords(prompt: string): { cleanedText: string; wordTokens: WordTokens[] } {
    const wordTokens: WordTokens[] = [];
    let cleanedText = '';
    const append = (part: string): number => {
      if (cleanedText.length > 0) cleanedText += ' ';
      const offset = cleanedText.length;
      cleanedText += part;
      return offset;
    };

    // With a capturing group, split() puts the special tokens at the odd indices.
    const parts = prompt.split(this.specialTokenSplitter);
    for (const [partIndex, part] of parts.entries()) {
      if (partIndex % 2 === 1) {
        const start = append(part);
        wordTokens.push({
          word: { text: part, start, end: start + part.length, special: true },
          tokens: [part],
        });
        continue;
      }
      const cleaned = cleanClipText(part);
      if (cleaned.length === 0) continue;
      const offset = append(cleaned);
      for (const match of cleaned.matchAll(CLIP_WORD)) {
        const start = offset + match.index;
        wordTokens.push({
          word: { text: match[0], start, end: start + match[0].length, special: false },
          tokens: this.bpe.encode(toByteLevel(match[0])),
        });
      }
    }
    return { cleanedText, wordTokens };
  }

  private position(index: number, id: number, wordIndex: number): ClipTokenPosition {
    const token = this.tokenOf(id);
    const isSpecial = this.specialTokens.has(token);
    const text = isSpecial ? token : fromByteLevel(token.endsWith(END_OF_WORD) ? token.slice(0, -4) : token);
    return { index, id, token, text, wordIndex };
  }

  private idOf(token: string): number {
    return this.vocab.get(token) ?? this.unkTokenId;
  }

  private tokenOf(id: number): string {
    const token = this.tokenOfId.get(id);
    if (token === undefined) throw new RangeError(`Token id ${id} is not in the CLIP vocabulary`);
    return token;
  }
}

/** transformers' `clean_up_tokenization`: no space before punctuation and English contractions. */
function cleanUpSpaces(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
