import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { ClipTokenizer } from '../../src/models/clipTokenizer.ts';
import { SdxlTextConditioning } from '../../src/models/sdxl/textConditioning.ts';
import { loadTextEncoder } from '../../src/models/textEncoder/index.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { expectClose, maxAbs } from '../helpers/tensors.ts';
import {
  SDXL_NEGATIVE_PROMPT,
  SDXL_PROMPT_KEYS,
  SDXL_PROMPTS,
  type SdxlPromptKey,
  sdxlGoldenFloats,
  TINY_SDXL,
} from './sdxlGolden.ts';

// The fixtures README recommends 1e-5 for embeddings; measured here (max |Δ| / max |golden|): prompt_embeds
// 4.1e-7 / 4.6e-7 (the two prompts), "blurry, low quality" 4.7e-7, "" 4.0e-7; pooled 4.0e-7 / 3.9e-7, 4.8e-7,
// 4.8e-7 (the golden's own float32-vs-float64 error: 4.6e-7). About 10× the largest.
const EMBEDDING_TOLERANCE = 5e-6;

const cacheDir = tempDir('dnb-sdxl-text-conditioning-');
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

describe('SdxlTextConditioning on the tiny-sdxl fixture', () => {
  it('gives prompt_embeds and pooled_prompt_embeds of both prompts, the negative prompt and ""', async () => {
    const text = await SdxlTextConditioning.load(TINY_SDXL, { cacheDir });
    expect(text.widths).toEqual({ length: 77, embeds: 68, pooled: 24 });
    const cases: [SdxlPromptKey, string, string][] = [];
    for (const key of SDXL_PROMPT_KEYS) {
      cases.push([key, SDXL_PROMPTS[key], '']);
      cases.push([key, SDXL_NEGATIVE_PROMPT, 'negative_']);
    }
    // "" is encoded like any prompt (only a missing negative prompt becomes zeros); stored for the first prompt.
    cases.push([SDXL_PROMPT_KEYS[0], '', 'emptystr']);
    for (const [key, prompt, kind] of cases) {
      const [embedsName, pooledName] =
        kind === 'emptystr'
          ? ['negative_prompt_embeds_emptystr', 'negative_pooled_prompt_embeds_emptystr']
          : [`${kind}prompt_embeds`, `${kind}pooled_prompt_embeds`];
      const { embeds, pooled, warnings } = await text.encode(prompt);
      expect(embeds.length).toBe(77 * 68);
      expect(pooled.length).toBe(24);
      expect(warnings).toEqual([]);
      const goldenEmbeds = await sdxlGoldenFloats(key, embedsName);
      expect(maxAbs(goldenEmbeds)).toBeGreaterThan(1);
      expectClose(embeds, goldenEmbeds, EMBEDDING_TOLERANCE);
      expectClose(pooled, await sdxlGoldenFloats(key, pooledName), EMBEDDING_TOLERANCE);
    }
    await text.release();
  });

  it('warns once, in the SD pipeline wording, about a prompt both tokenizers truncate, and works again after release()', async () => {
    const text = await SdxlTextConditioning.load(TINY_SDXL, { cacheDir });
    // 80 words of one token each: 82 ids with SOT and EOT, of which the last 5 words do not fit in 77.
    const long = Array.from({ length: 20 }, () => 'a red book and').join(' ');
    const first = await text.encode(long);
    expect(first.warnings).toEqual([
      'the prompt is 82 tokens, longer than 77; dropped: "and a red book and"',
    ]);
    await text.release();
    const again = await text.encode(long);
    expect(again.embeds).toEqual(first.embeds);
    expect(again.pooled).toEqual(first.pooled);
    await text.release();
  });

  it('sends prompt_2 to text_encoder_2 alone when it is given', async () => {
    const text = await SdxlTextConditioning.load(TINY_SDXL, { cacheDir });
    const [key] = SDXL_PROMPT_KEYS;
    const { embeds, pooled } = await text.encode(SDXL_PROMPTS[key], SDXL_NEGATIVE_PROMPT);
    const positive = await sdxlGoldenFloats(key, 'prompt_embeds');
    const negative = await sdxlGoldenFloats(key, 'negative_prompt_embeds');
    // Per token: text_encoder's 32 columns from the prompt, text_encoder_2's 36 from prompt_2.
    const expected = positive.map((value, i) => (i % 68 < 32 ? value : negative[i]));
    expectClose(embeds, expected, EMBEDDING_TOLERANCE);
    expectClose(pooled, await sdxlGoldenFloats(key, 'negative_pooled_prompt_embeds'), EMBEDDING_TOLERANCE);
    await text.release();
  });

  it('refuses a second text encoder without a projection', async () => {
    const textEncoder = await loadTextEncoder(TINY_SDXL);
    const tokenizer = ClipTokenizer.fromFolder(join(TINY_SDXL, 'tokenizer'));
    const build = () =>
      new SdxlTextConditioning({ tokenizer, tokenizer2: tokenizer, textEncoder, textEncoder2: textEncoder });
    expect(build).toThrow(UserError);
    expect(build).toThrow(
      "text_encoder: SDXL's second text encoder must be a CLIPTextModelWithProjection (it gives the pooled embeddings); its config.json describes a CLIPTextModel",
    );
  });
});
