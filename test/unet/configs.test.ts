import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { Graph } from '../../src/graph/index.ts';
import { loadUNet, parseUNetConfig, type UNet2DConditionModel } from '../../src/models/unet/index.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import { float32ToFloat16 } from '../../src/weights/halfFloat.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import {
  goldenFile,
  relativeError,
  seededUniform,
  TIMESTEPS,
  TINY_SD,
  tempDirForFile,
  tinyUNet,
} from './fixtures.ts';

const tempRoot = tempDirForFile('dnb-unet-configs-');
let folders = 0;

const TINY_UNET = join(TINY_SD, 'unet');
const tinyConfig = async () =>
  JSON.parse(await readFile(join(TINY_UNET, 'config.json'), 'utf8')) as Record<string, unknown>;

/** The tiny model's tensors, each passed through `edit` (return null to drop it). */
async function tinyTensors(
  edit: (name: string, shape: number[], data: Float32Array) => { shape: number[]; data: Float32Array } | null,
): Promise<Record<string, TensorToWrite>> {
  const file = await openSafetensors(join(TINY_UNET, 'diffusion_pytorch_model.safetensors'));
  const out: Record<string, TensorToWrite> = {};
  for (const [name, info] of file.tensors) {
    const edited = edit(name, [...info.shape], await file.readFloat32(name));
    if (edited) out[name] = { dtype: 'F32', ...edited };
  }
  return out;
}

/** Writes a unet/ folder (config.json + weights) under the test's temp dir and returns its path. */
async function writeUNetFolder(config: Record<string, unknown>, tensors: Record<string, TensorToWrite>) {
  const dir = join(await tempRoot(), `unet-${folders++}`);
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), tensors);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return dir;
}

const isProjection = (name: string) => /\.proj_(in|out)\.weight$/.test(name);

describe('UNet configurations beyond the fixtures', () => {
  it('use_linear_projection with per-block head counts and upcast_attention: the 1×1 convs as Linears give the golden noise', async () => {
    // A 1×1 conv and a Linear with the same matrix compute the same map, so the SD 2.x layout of the tiny
    // model's own weights must reproduce its golden output; [8, 8, 8] heads is the list form of 8; upcasting
    // is a no-op in float32.
    const config = {
      ...(await tinyConfig()),
      use_linear_projection: true,
      attention_head_dim: [8, 8, 8],
      upcast_attention: true,
    };
    const tensors = await tinyTensors((name, shape, data) => ({
      shape: isProjection(name) ? shape.slice(0, 2) : shape,
      data,
    }));
    const dir = await writeUNetFolder(config, tensors);
    const gold = await goldenFile('cat_frog');
    const ref = await gold.readFloat32('t_first/noise_pred_cond');
    const noiseOf = async (unet: UNet2DConditionModel) => {
      const predictor = await unet.compileNoisePrediction(
        { batch: 1, height: 32, width: 32 },
        { cacheDir: await tempRoot() },
      );
      return predictor.predict(
        await gold.readFloat32('init_latent'),
        TIMESTEPS.t_first,
        await gold.readFloat32('prompt_embeds'),
      );
    };

    const unet = await loadUNet(dir);
    expect(unet.config.useLinearProjection).toBe(true);
    expect(unet.config.heads).toEqual([8, 8, 8]);
    expect(relativeError(await noiseOf(unet), ref)).toBeLessThan(2.5e-5);
    // Where upcasting matters, float16 compute (SD 2.1 in half precision): scores and softmax run in float32.
    // Measured 1.8e-3 of max |ref| (float32 part above: 1.8e-6, bound 2.5e-5 as in golden.test.ts).
    expect(relativeError(await noiseOf(await loadUNet(dir, { dtype: 'float16' })), ref)).toBeLessThan(1e-2);
  });

  it('an SD 2.x-style UNet (linear projections, heads [2, 4, 4], upcast, 24-wide text) loads and runs', async () => {
    const config = {
      ...(await tinyConfig()),
      use_linear_projection: true,
      attention_head_dim: [2, 4, 4],
      upcast_attention: true,
      cross_attention_dim: 24,
      sample_size: 16,
    };
    const random = seededUniform(2024);
    const tensors = await tinyTensors((name, shape) => {
      const newShape = isProjection(name)
        ? shape.slice(0, 2)
        : /attn2\.to_[kv]\.weight$/.test(name)
          ? [shape[0], 24]
          : shape;
      const n = newShape.reduce((a, b) => a * b, 1);
      const base = /norm.*\.weight$/.test(name) ? 1 : 0;
      return { shape: newShape, data: Float32Array.from({ length: n }, () => base + 0.2 * random()) };
    });
    const unet = await loadUNet(await writeUNetFolder(config, tensors));
    expect(unet.config.sampleSize).toEqual([16, 16]);
    expect(unet.config.crossAttentionDim).toBe(24);

    const graph = new Graph();
    const inputs = unet.declareInputs(graph, { batch: 2, height: 16, width: 16 });
    const { noise, attention } = unet.forward(graph, inputs);
    expect(noise.shape).toEqual([2, 4, 16, 16]);
    const headsByBlock = Object.fromEntries(attention.map((r) => [r.name.split('.attentions')[0], r.heads]));
    expect(headsByBlock).toEqual({
      'down_blocks.0': 2,
      'down_blocks.1': 4,
      mid_block: 4,
      'up_blocks.1': 4,
      'up_blocks.2': 2,
    });
    const cross = attention.find((r) => r.name === 'up_blocks.2.attentions.0.transformer_blocks.0.attn2')!;
    expect(cross.probs.shape).toEqual([2, 2, 256, 77]);
    expect(cross.probs.dtype).toBe('float32');

    const compiled = await CompiledGraph.compile(
      { noise, probs: cross.probs },
      { cacheDir: await tempRoot() },
    );
    const feeds = {
      sample: Float32Array.from({ length: 2 * 4 * 16 * 16 }, random),
      timestep: Float32Array.of(501),
      encoder_hidden_states: Float32Array.from({ length: 2 * 77 * 24 }, random),
    };
    const out = await compiled.run(feeds);
    const probs = out.probs.data as Float32Array;
    for (let row = 0; row < probs.length / 77; row += 97) {
      const sum = probs.subarray(row * 77, (row + 1) * 77).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(1, 5);
    }
    // The head counts reach the arithmetic: the same weights with heads [4, 4, 4] (only down_blocks.0 and
    // up_blocks.2 change) give another output, and the scalar form 4 gives that output exactly.
    const noiseWith = async (heads: number | number[]) => {
      const other = await loadUNet(await writeUNetFolder({ ...config, attention_head_dim: heads }, tensors));
      const g = new Graph();
      const result = await CompiledGraph.compile(
        { noise: other.forward(g, other.declareInputs(g, { batch: 2, height: 16, width: 16 })).noise },
        { cacheDir: await tempRoot() },
      );
      return (await result.run(feeds)).noise.data as Float32Array;
    };
    const uniform = await noiseWith([4, 4, 4]);
    expect(Array.from(await noiseWith(4))).toEqual(Array.from(uniform));
    // Measured: the [2, 4, 4] and [4, 4, 4] outputs differ by 4.0e-2 of max |noise|.
    expect(relativeError(out.noise.data as Float32Array, uniform)).toBeGreaterThan(1e-3);
  });

  it('an fp16 weights variant loads by name and runs in float32 within half-precision rounding of the golden', async () => {
    const dir = join(await tempRoot(), 'fp16-variant');
    await mkdir(dir, { recursive: true });
    const tensors = await tinyTensors((_name, shape, data) => ({ shape, data }));
    const half = Object.fromEntries(
      Object.entries(tensors).map(([name, t]) => [
        name,
        {
          dtype: 'F16',
          shape: t.shape,
          data: float32ToFloat16(t.data as Float32Array),
        } satisfies TensorToWrite,
      ]),
    );
    await writeSafetensors(join(dir, 'diffusion_pytorch_model.fp16.safetensors'), half);
    await writeFile(join(dir, 'config.json'), JSON.stringify(await tinyConfig()));
    const unet = await loadUNet(dir, { variant: 'fp16' });
    const predictor = await unet.compileNoisePrediction(
      { batch: 1, height: 32, width: 32 },
      { cacheDir: await tempRoot() },
    );
    const gold = await goldenFile('cat_frog');
    const noise = await predictor.predict(
      await gold.readFloat32('init_latent'),
      TIMESTEPS.t_first,
      await gold.readFloat32('prompt_embeds'),
    );
    const error = relativeError(noise, await gold.readFloat32('t_first/noise_pred_cond'));
    // Only the weights are rounded (relative 4.9e-4 each; measured 1.3e-3 of max |ref| at the output), the
    // arithmetic stays float32; 1e-2 (7.5×) tells a wrong weight binding (errors of order 1) apart.
    expect(error).toBeGreaterThan(0);
    expect(error).toBeLessThan(1e-2);
  });

  it('latents that are not a multiple of the downsampling factor upsample to the skip sizes, as diffusers does', async () => {
    const unet = await tinyUNet();
    const graph = new Graph();
    // 18 → 9 → 5 on the way down; the up blocks resize 5 → 9 → 18 (diffusers' forward_upsample_size).
    const { noise } = unet.forward(graph, unet.declareInputs(graph, { batch: 1, height: 18, width: 18 }));
    expect(noise.shape).toEqual([1, 4, 18, 18]);
  });

  describe('weights that do not match the config', () => {
    const expectLoadError = async (tensors: Record<string, TensorToWrite>, ...parts: RegExp[]) => {
      const dir = await writeUNetFolder(await tinyConfig(), tensors);
      const error = await loadUNet(dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      const message = (error as Error).message;
      expect(message).toContain(join(dir, 'diffusion_pytorch_model.safetensors'));
      for (const part of parts) expect(message).toMatch(part);
    };

    it('a missing weight names the file and the key', async () => {
      const missing = 'up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_k.weight';
      await expectLoadError(
        await tinyTensors((name, shape, data) => (name === missing ? null : { shape, data })),
        /missing 1 tensor/,
        new RegExp(missing.replaceAll('.', '\\.')),
      );
    });

    it('a weight of the wrong shape names the file, the key and both shapes', async () => {
      const wrong = 'mid_block.resnets.0.conv1.weight';
      await expectLoadError(
        await tinyTensors((name, shape, data) =>
          name === wrong ? { shape: [64, 64, 1, 9], data } : { shape, data },
        ),
        /wrong shape/,
        /mid_block\.resnets\.0\.conv1\.weight is \[64, 64, 1, 9\].*expected \[64, 64, 3, 3\]/,
      );
    });

    it('an unexpected weight is named', async () => {
      const tensors = await tinyTensors((_name, shape, data) => ({ shape, data }));
      tensors['down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias'] = {
        dtype: 'F32',
        shape: [32],
        data: new Float32Array(32),
      };
      await expectLoadError(
        tensors,
        /unexpected 1 tensor: down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn1\.to_q\.bias/,
      );
    });
  });

  describe('config values this implementation does not support are refused by key and value', () => {
    const cases: [string, unknown][] = [
      ['dual_cross_attention', true],
      ['class_embed_type', 'timestep'],
      ['addition_embed_type', 'text_time'],
      ['time_embedding_type', 'fourier'],
      ['resnet_time_scale_shift', 'ada_group'],
      ['down_block_types', ['CrossAttnDownBlock2D', 'AttnDownBlock2D', 'DownBlock2D']],
      ['mid_block_type', 'UNetMidBlock2DSimpleCrossAttn'],
      ['attention_head_dim', [8, 8]],
      ['act_fn', 'gelu'],
      ['cross_attention_dim', [32, 32, 48]],
      ['norm_num_groups', 24],
    ];
    for (const [key, value] of cases) {
      it(`${key}: ${JSON.stringify(value)}`, async () => {
        const raw = { ...(await tinyConfig()), [key]: value };
        expect(() => parseUNetConfig('unet/config.json', raw)).toThrow(UserError);
        expect(() => parseUNetConfig('unet/config.json', raw)).toThrow(
          `unet/config.json: "${key}" is ${JSON.stringify(value)}`,
        );
      });
    }

    it('reads diffusers defaults for absent keys and the head count from attention_head_dim', async () => {
      const config = parseUNetConfig('config.json', {});
      expect(config.blockOutChannels).toEqual([320, 640, 1280, 1280]);
      expect(config.heads).toEqual([8, 8, 8, 8]);
      expect(config.crossAttentionDim).toBe(1280);
      expect(config.timeEmbedDim).toBe(1280);
      expect(config.layersPerBlock).toEqual([2, 2, 2, 2]);
      // SD 2.x: attention_head_dim [5, 10, 20, 20] heads (of width 64); num_attention_heads overrides when set.
      expect(parseUNetConfig('c', { attention_head_dim: [5, 10, 20, 20] }).heads).toEqual([5, 10, 20, 20]);
      expect(parseUNetConfig('c', { attention_head_dim: 64, num_attention_heads: 8 }).heads).toEqual([
        8, 8, 8, 8,
      ]);
    });
  });
});
