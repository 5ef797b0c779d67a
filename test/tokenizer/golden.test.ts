import { describe, expect, it } from 'vitest';
import { GOLDEN, sd15Tokenizer } from './fixtures.ts';

describe('CLIP tokenizer against transformers (slow CLIPTokenizer + ftfy 6.1.1)', () => {
  it('has the golden special ids and length', () => {
    const tokenizer = sd15Tokenizer();
    expect(tokenizer.bosTokenId).toBe(GOLDEN.bos_token_id);
    expect(tokenizer.eosTokenId).toBe(GOLDEN.eos_token_id);
    expect(tokenizer.padTokenId).toBe(GOLDEN.pad_token_id);
    expect(tokenizer.modelMaxLength).toBe(GOLDEN.model_max_length);
    expect(GOLDEN.cases).toHaveLength(41);
  });

  it.each(GOLDEN.cases.map((c) => [JSON.stringify(c.prompt).slice(0, 60), c] as const))(
    '%s',
    (_name, golden) => {
      const encoding = sd15Tokenizer().encode(golden.prompt);
      expect(encoding.inputIds).toEqual(golden.input_ids);
      expect(encoding.attentionMask).toEqual(golden.attention_mask);
      expect(encoding.tokens).toEqual(golden.tokens);
      expect(encoding.untruncatedIds).toEqual(golden.untruncated_ids);
      expect(encoding.truncated !== null).toBe(golden.truncated);
      // Without typed special tokens, the cleaned text is exactly what BPE saw in transformers.
      if (!golden.prompt.includes('<|')) expect(encoding.cleanedText).toBe(golden.normalized_text_hf_ftfy);
    },
  );
});
