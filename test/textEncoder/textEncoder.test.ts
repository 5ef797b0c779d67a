import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { loadTextEncoder } from '../../src/models/textEncoder/textEncoder.ts';
import { float16BitsToFloat32, float32ToFloat16 } from '../../src/weights/halfFloat.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { GOLDEN, GOLDEN_PROMPTS, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';
import { clipTextReference, randomClipWeights, type SmallClipConfig } from './reference.ts';

// About 10× the measured error: this implementation measures ≤ 4.0e-7 of max |ref| on every golden prompt
// (float32 vs float64 of the reference itself: 3.3e-7); the fixtures README's 1e-5 is 25× that.
const EMBEDDING_TOLERANCE = 4e-6;

const cacheDir = tempDir('dnb-text-encoder-');
const folders: string[] = [];
afterAll(async () => {
  await Promise.all([cacheDir, ...folders].map((dir) => rm(dir, { recursive: true, force: true })));
});

function newFolder(): string {
  const dir = tempDir('dnb-text-encoder-model-');
  folders.push(dir);
  return dir;
}

async function goldenIds(prompt: string, name: string): Promise<BigInt64Array> {
  const file = await openSafetensors(join(GOLDEN, `${prompt}.safetensors`));
  return file.readTyped(name, 'I64');
}

async function goldenFloats(prompt: string, name: string): Promise<Float32Array> {
  const file = await openSafetensors(join(GOLDEN, `${prompt}.safetensors`));
  return file.readFloat32(name);
}

/** A pipeline folder holding only a text encoder with the given config and tensors. */
async function writeTextEncoderFolder(
  root: string,
  config: Record<string, unknown>,
  tensors: Record<string, TensorToWrite>,
  fileName = 'model.safetensors',
): Promise<void> {
  await mkdir(join(root, 'text_encoder'), { recursive: true });
  await writeFile(
    join(root, 'model_index.json'),
    JSON.stringify({
      _class_name: 'StableDiffusionPipeline',
      text_encoder: ['transformers', 'CLIPTextModel'],
    }),
  );
  await writeFile(join(root, 'text_encoder/config.json'), JSON.stringify(config));
  await writeSafetensors(join(root, 'text_encoder', fileName), tensors, { metadata: { format: 'pt' } });
}

/** The tiny model's text encoder tensors as float32 arrays. */
async function tinyTensors(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const file = await openSafetensors(join(TINY_SD, 'text_encoder/model.safetensors'));
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, info] of file.tensors) {
    out.set(name, { shape: [...info.shape], data: await file.readFloat32(name) });
  }
  return out;
}

async function tinyConfig(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(TINY_SD, 'text_encoder/config.json'), 'utf8'));
}

describe('CLIP text encoder on the tiny-sd fixture', () => {
  it('reproduces prompt_embeds and negative_prompt_embeds of every golden prompt', async () => {
    const encoder = await loadTextEncoder(TINY_SD);
    expect(encoder.config).toMatchObject({ hiddenSize: 32, numHiddenLayers: 2, hiddenAct: 'quick_gelu' });
    const compiled = await encoder.compile({ batch: 1, cacheDir });
    for (const prompt of GOLDEN_PROMPTS) {
      for (const [ids, embeds] of [
        ['input_ids', 'prompt_embeds'],
        ['negative_input_ids', 'negative_prompt_embeds'],
      ]) {
        const out = await compiled.run(await goldenIds(prompt, ids));
        expect(out.shape).toEqual([1, 77, 32]);
        expectClose(out.data as Float32Array, await goldenFloats(prompt, embeds), EMBEDDING_TOLERANCE);
      }
    }
    await compiled.release();
  });

  it('encodes a batch [uncond, cond] as the two single prompts', async () => {
    const encoder = await loadTextEncoder(TINY_SD);
    const compiled = await encoder.compile({ batch: 2, cacheDir });
    const prompt = GOLDEN_PROMPTS[0];
    const ids = new BigInt64Array(154);
    ids.set(await goldenIds(prompt, 'negative_input_ids'), 0);
    ids.set(await goldenIds(prompt, 'input_ids'), 77);
    const out = await compiled.run(ids);
    expect(out.shape).toEqual([2, 77, 32]);
    const data = out.data as Float32Array;
    expectClose(
      data.subarray(0, 77 * 32),
      await goldenFloats(prompt, 'negative_prompt_embeds'),
      EMBEDDING_TOLERANCE,
    );
    expectClose(data.subarray(77 * 32), await goldenFloats(prompt, 'prompt_embeds'), EMBEDDING_TOLERANCE);
    await expect(compiled.run(new BigInt64Array(154).fill(49408n))).rejects.toThrow(
      /outside the text encoder's vocabulary/,
    );
    await compiled.release();
  });
});

describe('CLIP text encoder configurations and files', () => {
  it('runs an SD 2.x-style config (exact gelu, 3 heads, 3 layers, position_ids buffer) like a float64 reference', async () => {
    const config: SmallClipConfig = {
      vocabSize: 300,
      hiddenSize: 48,
      intermediateSize: 80,
      numHiddenLayers: 3,
      numAttentionHeads: 3,
      maxPositionEmbeddings: 77,
      hiddenAct: 'gelu',
      layerNormEps: 1e-5,
    };
    const weights = randomClipWeights(config, 7);
    const root = newFolder();
    const tensors: Record<string, TensorToWrite> = {
      'text_model.embeddings.position_ids': {
        dtype: 'I64',
        shape: [1, 77],
        data: BigInt64Array.from({ length: 77 }, (_, i) => BigInt(i)),
      },
    };
    for (const [name, t] of weights) tensors[name] = { dtype: 'F32', shape: t.shape, data: t.data };
    await writeTextEncoderFolder(
      root,
      {
        architectures: ['CLIPTextModel'],
        model_type: 'clip_text_model',
        hidden_act: 'gelu',
        hidden_size: 48,
        intermediate_size: 80,
        num_attention_heads: 3,
        num_hidden_layers: 3,
        max_position_embeddings: 77,
        vocab_size: 300,
        layer_norm_eps: 1e-5,
        projection_dim: 16,
      },
      tensors,
    );
    const encoder = await loadTextEncoder(root);
    const compiled = await encoder.compile({ batch: 2, cacheDir });
    const ids = BigInt64Array.from({ length: 154 }, (_, i) => BigInt((i * 37 + 11) % 300));
    const out = await compiled.run(ids);
    expect(out.shape).toEqual([2, 77, 48]);
    // Measured 1.5e-6 of max |ref| against the float64 reference (6.7×).
    expectClose(out.data as Float32Array, clipTextReference(config, weights, ids, 2), 1e-5);
    await compiled.release();
  });

  it('reads an fp16 variant file: equal to float32 weights holding the same rounded values, near the golden', async () => {
    const root = newFolder();
    const config = await tinyConfig();
    const half: Record<string, TensorToWrite> = {};
    const rounded: Record<string, TensorToWrite> = {};
    for (const [name, t] of await tinyTensors()) {
      const bits = float32ToFloat16(t.data);
      half[name] = { dtype: 'F16', shape: t.shape, data: bits };
      rounded[name] = { dtype: 'F32', shape: t.shape, data: float16BitsToFloat32(bits) };
    }
    await writeTextEncoderFolder(root, config, half, 'model.fp16.safetensors');
    await writeSafetensors(join(root, 'text_encoder/model.safetensors'), rounded);

    const prompt = GOLDEN_PROMPTS[0];
    const ids = await goldenIds(prompt, 'input_ids');
    const run = async (variant?: string) => {
      const compiled = await (await loadTextEncoder(root, { variant })).compile({ batch: 1, cacheDir });
      const out = (await compiled.run(ids)).data as Float32Array;
      await compiled.release();
      return out;
    };
    const fromHalf = await run('fp16');
    // Widening fp16 to float32 is exact, so both graphs compute the same thing.
    expectClose(fromHalf, await run(), 1e-6);
    // fp16 weights (11-bit mantissa, relative rounding ≤ 4.9e-4) move the output by about that much: measured
    // 8.8e-4 of max |ref| (5.7×).
    expectClose(fromHalf, await goldenFloats(prompt, 'prompt_embeds'), 5e-3);
  });

  it('names the file and the key of a missing weight', async () => {
    const root = newFolder();
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, t] of await tinyTensors()) {
      if (name !== 'text_model.encoder.layers.1.mlp.fc2.bias') tensors[name] = { dtype: 'F32', ...t };
    }
    await writeTextEncoderFolder(root, await tinyConfig(), tensors);
    const error = await loadTextEncoder(root).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain(join(root, 'text_encoder/model.safetensors'));
    expect((error as Error).message).toContain('missing 1 tensor: text_model.encoder.layers.1.mlp.fc2.bias');
  });

  it('rejects a tensor whose shape disagrees with the config, and unsupported config values by key and value', async () => {
    const root = newFolder();
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, t] of await tinyTensors()) tensors[name] = { dtype: 'F32', ...t };
    const config = await tinyConfig();
    await writeTextEncoderFolder(root, { ...config, intermediate_size: 36 }, tensors);
    await expect(loadTextEncoder(root)).rejects.toThrow(/wrong shape .*mlp\.fc1\.weight is \[37, 32\]/);

    await writeFile(
      join(root, 'text_encoder/config.json'),
      JSON.stringify({ ...config, hidden_act: 'mish' }),
    );
    await expect(loadTextEncoder(root)).rejects.toThrow(/"hidden_act" is "mish", which is not supported/);
    await writeFile(
      join(root, 'text_encoder/config.json'),
      JSON.stringify({ ...config, num_attention_heads: 5 }),
    );
    await expect(loadTextEncoder(root)).rejects.toThrow(/"num_attention_heads" is 5/);
  });
});
