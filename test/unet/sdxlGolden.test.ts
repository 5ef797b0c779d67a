import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { Graph } from '../../src/graph/index.ts';
import { ModelParameters } from '../../src/models/parameters.ts';
import {
  loadUNet,
  type NoisePredictor,
  textTimeEmbedding,
  timeEmbedding,
  type UNet2DConditionModel,
} from '../../src/models/unet/index.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import { relativeError, tempDirForFile } from './fixtures.ts';
import { SDXL_PROMPTS, SDXL_T0, sdxlGolden, stack, TINY_SDXL, tinySdxlUNet } from './sdxlFixtures.ts';

// The fixtures README's tolerances: 1e-4 of max |ref| for UNet outputs and attention probabilities, 1e-5 for
// embeddings; the reference's own float32-vs-float64 noise is 7.7e-7 (noise), 2.6e-7 (time and add embedding),
// 4.2e-6 (probabilities). The measured errors are written next to each check.
const NOISE_TOLERANCE = 1e-4;
const EMBEDDING_TOLERANCE = 1e-5;
const PROBS_TOLERANCE = 1e-4;
const LOG = process.env.DNB_LOG_ERRORS === '1';
const measured = (what: string, error: number) => {
  if (LOG) console.log(`${what}: ${error.toExponential(2)}`);
  return error;
};

const cacheDir = tempDirForFile('dnb-unet-sdxl-');

/** diffusers' call order of the 17 cross-attention layers at latent 64 × 64 (fixtures README, "SDXL"). */
const CROSS_LAYERS: [string, number, number][] = [
  ...[0, 1].map((a): [string, number, number] => [
    `down_blocks.1.attentions.${a}.transformer_blocks.0`,
    32,
    2,
  ]),
  ...[0, 1].flatMap((a) =>
    [0, 1].map((t): [string, number, number] => [
      `down_blocks.2.attentions.${a}.transformer_blocks.${t}`,
      16,
      4,
    ]),
  ),
  ...[0, 1].map((t): [string, number, number] => [`mid_block.attentions.0.transformer_blocks.${t}`, 16, 4]),
  ...[0, 1, 2].flatMap((a) =>
    [0, 1].map((t): [string, number, number] => [
      `up_blocks.0.attentions.${a}.transformer_blocks.${t}`,
      16,
      4,
    ]),
  ),
  ...[0, 1, 2].map((a): [string, number, number] => [
    `up_blocks.1.attentions.${a}.transformer_blocks.0`,
    32,
    2,
  ]),
];

describe('SDXL UNet2DConditionModel on the tiny-sdxl goldens (diffusers 0.21.4)', () => {
  let unet: UNet2DConditionModel;
  let conditional: CompiledGraph;
  let crossNames: string[];
  let cfg: NoisePredictor;

  beforeAll(async () => {
    unet = await tinySdxlUNet();
    const graph = new Graph();
    const { noise, attention } = unet.forward(
      graph,
      unet.declareInputs(graph, { batch: 1, height: 64, width: 64 }),
      { materialize: (layer) => layer.kind === 'cross' },
    );
    crossNames = attention.map((r) => r.name);
    const outputs = Object.fromEntries([['noise', noise], ...attention.map((r, i) => [`p${i}`, r.probs])]);
    conditional = await CompiledGraph.compile(outputs, { cacheDir: await cacheDir() });
    cfg = await unet.compileNoisePrediction(
      { batch: 2, height: 64, width: 64 },
      { cacheDir: await cacheDir() },
    );
  });

  it('reads the text_time addition, the per-block transformer depths and head counts from the config', () => {
    expect(unet.config.addition).toEqual({
      type: 'text_time',
      timeEmbedDim: 8,
      projectionInputDim: 72,
      pooledDim: 24,
    });
    expect(unet.config.transformerLayersPerBlock).toEqual([1, 1, 2]);
    expect(unet.config.heads).toEqual([1, 2, 4]);
    expect(unet.config.timeEmbedDim).toBe(32);
  });

  it('declares text_embeds [B, 24] and time_ids [B, 6] besides the SD inputs', () => {
    const graph = new Graph();
    const inputs = unet.declareInputs(graph, { batch: 2, height: 64, width: 64 });
    expect(inputs.textEmbeds?.shape).toEqual([2, 24]);
    expect(inputs.timeIds?.shape).toEqual([2, 6]);
    expect(graph.inputs.map((v) => [(v.origin as { name: string }).name, v.shape, v.dtype])).toEqual([
      ['sample', [2, 4, 64, 64], 'float32'],
      ['timestep', [], 'float32'],
      ['encoder_hidden_states', [2, 77, 68], 'float32'],
      ['text_embeds', [2, 24], 'float32'],
      ['time_ids', [2, 6], 'float32'],
    ]);
  });

  it('lists the 17 cross-attention layers in call order with their resolutions and head counts', () => {
    const graph = new Graph();
    const { layers } = unet.forward(graph, unet.declareInputs(graph, { batch: 1, height: 64, width: 64 }), {
      materialize: () => false,
    });
    const cross = layers.filter((l) => l.kind === 'cross');
    expect(cross.map((l) => [l.name, l.resolution, l.heads])).toEqual(
      CROSS_LAYERS.map(([block, side, heads]) => [`${block}.attn2`, [side, side], heads]),
    );
    expect(crossNames).toEqual(cross.map((l) => l.name));
    expect(cross.map((l) => l.place)).toEqual([
      ...new Array(6).fill('down'),
      'mid',
      'mid',
      ...new Array(9).fill('up'),
    ]);
  });

  it('time_embedding and add_embedding outputs of the batch-2 call match step0/*', async () => {
    const gold = await sdxlGolden('red_book_yellow_vase');
    const addition = unet.config.addition;
    if (!addition) throw new Error('tiny-sdxl has the text_time addition');
    const graph = new Graph();
    const params = new ModelParameters(graph, unet.weights);
    const timestep = graph.input('timestep', []);
    const textEmbeds = graph.input('text_embeds', [2, 24]);
    const timeIds = graph.input('time_ids', [2, 6]);
    const outputs = {
      time: timeEmbedding(params, unet.config, timestep, 2, 'float32'),
      aug: textTimeEmbedding(params, unet.config, addition, { textEmbeds, timeIds }, 'float32'),
    };
    const compiled = await CompiledGraph.compile(outputs, { cacheDir: await cacheDir() });
    const pooled = await gold.readFloat32('pooled_prompt_embeds');
    const ids = await gold.readFloat32('add_time_ids');
    expect([...ids]).toEqual([128, 128, 0, 0, 128, 128]);
    // The uncond row of the batch: negative_prompt None gives zero pooled embeddings, the same time ids.
    const out = await compiled.run({
      timestep: Float32Array.of(SDXL_T0),
      text_embeds: stack(new Float32Array(24), pooled),
      time_ids: stack(ids, ids),
    });
    // Measured 3.6e-6 (time: sinusoid arguments up to 901 in float32, where an ulp of the runtime's exp shows)
    // and 3.9e-7 (add) of max |ref|.
    const time = await gold.readFloat32('step0/time_embedding_output');
    expect(measured('time_embedding', relativeError(out.time.data as Float32Array, time))).toBeLessThan(
      EMBEDDING_TOLERANCE,
    );
    const aug = await gold.readFloat32('step0/add_embedding_output');
    expect(measured('add_embedding', relativeError(out.aug.data as Float32Array, aug))).toBeLessThan(
      EMBEDDING_TOLERANCE,
    );
  });

  it('batch-1 conditional call: noise_pred_cond_batch1 and every attn_step0 probability (columns 0..8)', async () => {
    const gold = await sdxlGolden('red_book_yellow_vase');
    const out = await conditional.run({
      sample: await gold.readFloat32('step0/unet_input'),
      timestep: Float32Array.of(SDXL_T0),
      encoder_hidden_states: await gold.readFloat32('prompt_embeds'),
      text_embeds: await gold.readFloat32('pooled_prompt_embeds'),
      time_ids: await gold.readFloat32('add_time_ids'),
    });
    const noise = await gold.readFloat32('step0/noise_pred_cond_batch1');
    // Measured 1.1e-6 of max |ref|.
    expect(measured('noise batch1', relativeError(out.noise.data as Float32Array, noise))).toBeLessThan(
      NOISE_TOLERANCE,
    );

    const stored = [...gold.tensors.keys()].filter((k) => k.startsWith('attn_step0/')).sort();
    expect(stored.map((k) => k.slice('attn_step0/NN_'.length))).toEqual(crossNames);
    // Measured 1.4e-6 … 6.8e-6 of max |ref| (largest: 12_up_blocks.0.attentions.2.transformer_blocks.0).
    for (const [i, key] of stored.entries()) {
      const ref = await gold.readFloat32(key); // [heads, pixels, 9]
      const map = out[`p${i}`].data as Float32Array; // [1, heads, pixels, 77]
      const columns = Float32Array.from(
        { length: ref.length },
        (_, j) => map[Math.floor(j / 9) * 77 + (j % 9)],
      );
      expect(measured(key, relativeError(columns, ref)), key).toBeLessThan(PROBS_TOLERANCE);
    }
  });

  for (const prompt of SDXL_PROMPTS) {
    it(`${prompt}: batch-2 classifier-free guidance call (zero negative embeddings) gives both halves`, async () => {
      const gold = await sdxlGolden(prompt);
      const x = await gold.readFloat32('step0/unet_input');
      const text = await gold.readFloat32('prompt_embeds');
      const pooled = await gold.readFloat32('pooled_prompt_embeds');
      const ids = await gold.readFloat32('add_time_ids');
      const noise = await cfg.predict(stack(x, x), SDXL_T0, stack(new Float32Array(text.length), text), {
        textEmbeds: stack(new Float32Array(pooled.length), pooled),
        timeIds: stack(ids, ids),
      });
      // Measured 9.8e-7 / 9.8e-7 (red_book_yellow_vase uncond / text), 7.9e-7 / 8.1e-7 (dog_cat_grass).
      const uncond = await gold.readFloat32('step0/noise_pred_uncond');
      const cond = await gold.readFloat32('step0/noise_pred_text');
      expect(measured(`${prompt} uncond`, relativeError(noise.subarray(0, x.length), uncond))).toBeLessThan(
        NOISE_TOLERANCE,
      );
      expect(measured(`${prompt} text`, relativeError(noise.subarray(x.length), cond))).toBeLessThan(
        NOISE_TOLERANCE,
      );
    });
  }

  it('float16 compute with the addition stays within half-precision error of the golden', async () => {
    const half = await loadUNet(TINY_SDXL, { dtype: 'float16' });
    const graph = new Graph();
    const { noise } = half.forward(graph, half.declareInputs(graph, { batch: 1, height: 64, width: 64 }), {
      materialize: () => false,
    });
    const compiled = await CompiledGraph.compile({ noise }, { cacheDir: await cacheDir() });
    const gold = await sdxlGolden('red_book_yellow_vase');
    const out = await compiled.run({
      sample: await gold.readFloat32('step0/unet_input'),
      timestep: Float32Array.of(SDXL_T0),
      encoder_hidden_states: await gold.readFloat32('prompt_embeds'),
      text_embeds: await gold.readFloat32('pooled_prompt_embeds'),
      time_ids: await gold.readFloat32('add_time_ids'),
    });
    // As options.test.ts's SD check: half precision measures 1.2e-3 of max |ref| here; 1e-2 separates it from a
    // wrong graph (other time ids alone move the noise by 7.0e-2, see the next test).
    const ref = await gold.readFloat32('step0/noise_pred_cond_batch1');
    expect(measured('float16', relativeError(out.noise.data as Float32Array, ref))).toBeLessThan(1e-2);
  });

  it('the time ids reach the noise: the micro-conditioning ids give a noise far outside the bound', async () => {
    const gold = await sdxlGolden('red_book_yellow_vase');
    const out = await conditional.run({
      sample: await gold.readFloat32('step0/unet_input'),
      timestep: Float32Array.of(SDXL_T0),
      encoder_hidden_states: await gold.readFloat32('prompt_embeds'),
      text_embeds: await gold.readFloat32('pooled_prompt_embeds'),
      time_ids: await gold.readFloat32('add_time_ids_microcond'),
    });
    const ref = await gold.readFloat32('step0/noise_pred_cond_batch1');
    // Micro-conditioning [512, 384, 16, 8, 128, 128] instead of [128, 128, 0, 0, 128, 128]: measured 7.0e-2.
    expect(
      measured('microcond vs default', relativeError(out.noise.data as Float32Array, ref)),
    ).toBeGreaterThan(100 * NOISE_TOLERANCE);
  });

  it('predict refuses a missing or mis-sized added conditioning with a UserError that says what to pass', async () => {
    const gold = await sdxlGolden('red_book_yellow_vase');
    const x = await gold.readFloat32('step0/unet_input');
    const text = await gold.readFloat32('prompt_embeds');
    const sample = stack(x, x);
    const context = stack(text, text);
    await expect(cfg.predict(sample, SDXL_T0, context)).rejects.toThrow(UserError);
    await expect(cfg.predict(sample, SDXL_T0, context)).rejects.toThrow(
      /needs the pooled text embeddings and the time ids .*pass them as `added`/,
    );
    await expect(
      cfg.predict(sample, SDXL_T0, context, {
        textEmbeds: new Float32Array(24),
        timeIds: new Float32Array(12),
      }),
    ).rejects.toThrow('text_embeds needs 48 values ([2,24]), got 24');
    await expect(
      cfg.predict(sample, SDXL_T0, context, {
        textEmbeds: new Float32Array(48),
        timeIds: new Float32Array(6),
      }),
    ).rejects.toThrow('time_ids needs 12 values ([2,6]), got 6');
  });

  it('forward refuses graph inputs without text_embeds / time_ids, or of the wrong shape', () => {
    const graph = new Graph();
    const sample = graph.input('sample', [1, 4, 64, 64]);
    const timestep = graph.input('timestep', []);
    const encoderHiddenStates = graph.input('encoder_hidden_states', [1, 77, 68]);
    expect(() => unet.forward(graph, { sample, timestep, encoderHiddenStates })).toThrow(UserError);
    expect(() => unet.forward(graph, { sample, timestep, encoderHiddenStates })).toThrow(
      /has addition_embed_type "text_time" and needs text_embeds \(the pooled text embedding\) of shape \[1,24\] float32, got none/,
    );
    const textEmbeds = graph.input('text_embeds', [1, 24]);
    const timeIds = graph.input('time_ids', [1, 5]);
    expect(() => unet.forward(graph, { sample, timestep, encoderHiddenStates, textEmbeds, timeIds })).toThrow(
      /needs time_ids \(original size, crop top-left, target size\) of shape \[1,6\] float32, got/,
    );
  });
});
