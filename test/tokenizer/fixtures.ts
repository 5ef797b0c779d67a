import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ClipTokenizer } from '../../src/models/clipTokenizer.ts';

export const TOKENIZER_FOLDER = fileURLToPath(new URL('../fixtures/tokenizer', import.meta.url));

export interface GoldenCase {
  prompt: string;
  input_ids: number[];
  attention_mask: number[];
  untruncated_ids: number[];
  truncated: boolean;
  tokens: string[];
  normalized_text_hf_ftfy: string;
}

export interface TokenizationGolden {
  pad_token_id: number;
  bos_token_id: number;
  eos_token_id: number;
  model_max_length: number;
  cases: GoldenCase[];
}

export const GOLDEN = JSON.parse(
  readFileSync(new URL('../fixtures/tokenization_golden.json', import.meta.url), 'utf8'),
) as TokenizationGolden;

let shared: ClipTokenizer | null = null;

/** The SD 1.5 tokenizer from test/fixtures, built once per test file. */
export function sd15Tokenizer(): ClipTokenizer {
  shared ??= ClipTokenizer.fromFolder(TOKENIZER_FOLDER);
  return shared;
}
