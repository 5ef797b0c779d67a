import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { ClipTokenizer } from '../../src/models/clipTokenizer.ts';
import { loadTextEncoder } from '../../src/models/textEncoder/index.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';
import {
  SDXL_NEGATIVE_PROMPT,
  SDXL_PROMPT_KEYS,
  SDXL_PROMPTS,
  sdxlGoldenFloats,
  sdxlGoldenIds,
  TINY_SDXL,
} from './sdxlGolden.ts';

// The fixtures README recommends 1e-5 for embeddings; measured here (max |Δ| / max |golden|, both prompts and the
// negative prompt): te1 penultimate ≤ 2.3e-7, te2 penultimate ≤ 4.7e-7, pooler_output ≤ 4.6e-7, text_embeds
// ≤ 4.8e-7 (the golden's own float32-vs-float64 error: 4.6e-7). About 10× the largest.
const EMBEDDING_TOLERANCE = 5e-6;

const cacheDir = tempDir('dnb-sdxl-text-encoders-');
const folders: string[] = [];
afterAll(async () => {
  await Promise.all([cacheDir, ...folders].map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("SDXL's tokenizers", () => {
  it('give the golden input_ids (pad <|endoftext|>) and input_ids_2 (pad "!" = 0) exactly', async () => {
    const tokenizer = ClipTokenizer.fromFolder(join(TINY_SDXL, 'tokenizer'));
    const tokenizer2 = ClipTokenizer.fromFolder(join(TINY_SDXL, 'tokenizer_2'));
    expect([tokenizer.padTokenId, tokenizer2.padTokenId]).toEqual([49407, 0]);
    for (const key of SDXL_PROMPT_KEYS) {
      for (const [prompt, prefix] of [
        [SDXL_PROMPTS[key], ''],
        [SDXL_NEGATIVE_PROMPT, 'negative_'],
      ] as const) {
        const golden = async (name: string) => [...(await sdxlGoldenIds(key, name))].map(Number);
        expect(tokenizer.encode(prompt).inputIds).toEqual(await golden(`${prefix}input_ids`));
        expect(tokenizer2.encode(prompt).inputIds).toEqual(await golden(`${prefix}input_ids_2`));
      }
    }
  });
});

describe("SDXL's text encoders on the tiny-sdxl fixture", () => {
  it('loads text_encoder as a CLIPTextModel and text_encoder_2 as a CLIPTextModelWithProjection', async () => {
    const te1 = await loadTextEncoder(TINY_SDXL);
    const te2 = await loadTextEncoder(TINY_SDXL, { component: 'text_encoder_2' });
    expect(te1.config).toMatchObject({
      architecture: 'CLIPTextModel',
      hiddenSize: 32,
      projectionDim: null,
      eosTokenId: 2,
    });
    expect(te2.config).toMatchObject({
      architecture: 'CLIPTextModelWithProjection',
      hiddenSize: 36,
      numHiddenLayers: 3,
      hiddenAct: 'gelu',
      projectionDim: 24,
      eosTokenId: 2,
    });
    expect(te2.component).toBe('text_encoder_2');
  });

  it('reproduces te1_penultimate, te2_penultimate, te2_pooled_before_projection and pooled_prompt_embeds', async () => {
    const te1 = await loadTextEncoder(TINY_SDXL);
    const te2 = await loadTextEncoder(TINY_SDXL, { component: 'text_encoder_2' });
    const c1 = await te1.compile({ batch: 1, cacheDir, outputs: ['penultimate_hidden_state'] });
    const c2 = await te2.compile({
      batch: 1,
      cacheDir,
      outputs: ['penultimate_hidden_state', 'pooler_output', 'text_embeds'],
    });
    for (const key of SDXL_PROMPT_KEYS) {
      const penultimate1 = await c1.run(await sdxlGoldenIds(key, 'input_ids'));
      expect(penultimate1.shape).toEqual([1, 77, 32]);
      expectClose(
        penultimate1.data as Float32Array,
        await sdxlGoldenFloats(key, 'te1_penultimate'),
        EMBEDDING_TOLERANCE,
      );
      const out2 = await c2.runOutputs(await sdxlGoldenIds(key, 'input_ids_2'));
      expect(out2.penultimate_hidden_state.shape).toEqual([1, 77, 36]);
      expect(out2.pooler_output.shape).toEqual([1, 36]);
      expect(out2.text_embeds.shape).toEqual([1, 24]);
      expectClose(
        out2.penultimate_hidden_state.data as Float32Array,
        await sdxlGoldenFloats(key, 'te2_penultimate'),
        EMBEDDING_TOLERANCE,
      );
      expectClose(
        out2.pooler_output.data as Float32Array,
        await sdxlGoldenFloats(key, 'te2_pooled_before_projection'),
        EMBEDDING_TOLERANCE,
      );
      expectClose(
        out2.text_embeds.data as Float32Array,
        await sdxlGoldenFloats(key, 'pooled_prompt_embeds'),
        EMBEDDING_TOLERANCE,
      );
      // The negative prompt's pooled embeddings come from its own (different) eos position.
      const negative = await c2.runOutputs(await sdxlGoldenIds(key, 'negative_input_ids_2'));
      expectClose(
        negative.text_embeds.data as Float32Array,
        await sdxlGoldenFloats(key, 'negative_pooled_prompt_embeds'),
        EMBEDDING_TOLERANCE,
      );
    }
    await Promise.all([c1.release(), c2.release()]);
  });

  it('pools each row of a batch at its own eos position', async () => {
    const te2 = await loadTextEncoder(TINY_SDXL, { component: 'text_encoder_2' });
    const compiled = await te2.compile({ batch: 2, cacheDir, outputs: ['text_embeds'] });
    const [key] = SDXL_PROMPT_KEYS;
    const ids = new BigInt64Array(154);
    ids.set(await sdxlGoldenIds(key, 'negative_input_ids_2'), 0);
    ids.set(await sdxlGoldenIds(key, 'input_ids_2'), 77);
    const { text_embeds } = await compiled.runOutputs(ids);
    expect(text_embeds.shape).toEqual([2, 24]);
    const data = text_embeds.data as Float32Array;
    expectClose(
      data.subarray(0, 24),
      await sdxlGoldenFloats(key, 'negative_pooled_prompt_embeds'),
      EMBEDDING_TOLERANCE,
    );
    expectClose(data.subarray(24), await sdxlGoldenFloats(key, 'pooled_prompt_embeds'), EMBEDDING_TOLERANCE);
    await compiled.release();
  });

  it('emits only what the outputs need: the penultimate state alone leaves the last layer out', async () => {
    const te1 = await loadTextEncoder(TINY_SDXL);
    const penultimate = await te1.compile({ batch: 1, cacheDir, outputs: ['penultimate_hidden_state'] });
    const last = await te1.compile({ batch: 1, cacheDir });
    // text_encoder has 2 identical layers and the final LayerNorm holds no matmul: one layer's matmuls are half.
    expect(2 * penultimate.graph.flops().matmul).toBe(last.graph.flops().matmul);
    expect(penultimate.graph.flops().byOp['LayerNormalization']).toBe(
      (2 / 5) * (last.graph.flops().byOp['LayerNormalization'] ?? 0),
    );
    expect(penultimate.graph.inputs.map((input) => input.name)).toEqual(['input_ids']);
    await Promise.all([penultimate.release(), last.release()]);
  });

  it('refuses text_embeds of a CLIPTextModel, and run() of an encoder compiled for several outputs', async () => {
    const te1 = await loadTextEncoder(TINY_SDXL);
    const error = await te1
      .compile({ batch: 1, cacheDir, outputs: ['text_embeds'] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toBe(
      'text_embeds needs a CLIPTextModelWithProjection (its text_projection); text_encoder/config.json describes a CLIPTextModel',
    );
    const both = await te1.compile({
      batch: 1,
      cacheDir,
      outputs: ['last_hidden_state', 'penultimate_hidden_state'],
    });
    await expect(both.run(new BigInt64Array(77))).rejects.toThrow(/use runOutputs\(\)/);
    await both.release();
  });
});

describe('text_encoder_2 folders', () => {
  /** A copy of tiny-sdxl's text_encoder_2 as a pipeline folder's only component, with its config changed. */
  async function folderWithConfig(change: (config: Record<string, unknown>) => void): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), 'dnb-sdxl-te2-'));
    folders.push(root);
    await cp(join(TINY_SDXL, 'text_encoder_2'), join(root, 'text_encoder_2'), { recursive: true });
    await writeFile(
      join(root, 'model_index.json'),
      JSON.stringify({
        _class_name: 'StableDiffusionXLPipeline',
        text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
      }),
    );
    const path = join(root, 'text_encoder_2/config.json');
    const config = JSON.parse(await readFile(path, 'utf8'));
    change(config);
    await writeFile(path, JSON.stringify(config));
    return root;
  }

  it('pools at the first id equal to eos_token_id when it is not the legacy 2 (transformers ≥ 4.31)', async () => {
    // Token 7 at position 3 and a larger id (49407) later: argmax would pick the later one.
    const root = await folderWithConfig((config) => {
      config['eos_token_id'] = 7;
    });
    const te2 = await loadTextEncoder(root, { component: 'text_encoder_2' });
    const compiled = await te2.compile({
      batch: 1,
      cacheDir,
      outputs: ['last_hidden_state', 'pooler_output'],
    });
    const ids = BigInt64Array.from({ length: 77 }, (_, i) => BigInt([49406, 320, 320, 7, 49407][i] ?? 0));
    const out = await compiled.runOutputs(ids);
    const states = out.last_hidden_state.data as Float32Array;
    expect([...(out.pooler_output.data as Float32Array)]).toEqual([...states.subarray(3 * 36, 4 * 36)]);
    await compiled.release();
  });

  it('refuses a projection weight whose shape disagrees with projection_dim, and an unknown class', async () => {
    const wrongWidth = await folderWithConfig((config) => {
      config['projection_dim'] = 20;
    });
    await expect(loadTextEncoder(wrongWidth, { component: 'text_encoder_2' })).rejects.toThrow(
      /text_projection\.weight is \[24, 36\]/,
    );
    const vision = await folderWithConfig((config) => {
      config['architectures'] = ['CLIPVisionModelWithProjection'];
    });
    await expect(loadTextEncoder(vision, { component: 'text_encoder_2' })).rejects.toThrow(
      /"architectures" is \["CLIPVisionModelWithProjection"\], which is not supported \(the text encoder must be one of CLIPTextModel, CLIPTextModelWithProjection\)/,
    );
  });
});
