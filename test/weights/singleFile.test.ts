import { cp, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTextEncoder } from '../../src/models/textEncoder/textEncoder.ts';
import { loadUNet } from '../../src/models/unet/index.ts';
import { loadVaeDecoder } from '../../src/models/vae/vaeDecoder.ts';
import { type DiffusersFolder, openDiffusersFolder, openWeights } from '../../src/weights/diffusersFolder.ts';
import { openModel } from '../../src/weights/resolveModel.ts';
import { unetDiffusersName } from '../../src/weights/singleFile/unetKeys.ts';
import { vaeTensor } from '../../src/weights/singleFile/vaeKeys.ts';
import { readTree } from '../helpers/files.ts';
import { FIXTURES, TINY_SD } from '../helpers/fixtures.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { type FakeHub, startFakeHub } from './fakeHub.ts';
import {
  ldmClipText,
  ldmExtras,
  ldmOpenClipText,
  ldmUNet,
  ldmVae,
  type UNetLayout,
  writeCheckpoint,
} from './singleFileFixtures.ts';
import { useTempDirs } from './tempDir.ts';

const TINY_SDXL = join(FIXTURES, 'sdxl/tiny-sdxl');
const tempDir = useTempDirs();
const quiet = { progress: 'none' as const, log: () => {} };

// tiny-sd: up blocks UpBlock2D, CrossAttnUpBlock2D, CrossAttnUpBlock2D; tiny-sdxl: the reverse. Both L = 2.
const TINY_SD_UNET: UNetLayout = { layersPerBlock: 2, upBlockHasAttention: [false, true, true] };
const TINY_SDXL_UNET: UNetLayout = { layersPerBlock: 2, upBlockHasAttention: [true, true, false] };

async function sd1File(
  dir: string,
  extra: Parameters<typeof writeCheckpoint>[1] = {},
  name = 'tiny-sd1',
): Promise<string> {
  const path = join(dir, `${name}.safetensors`);
  await writeCheckpoint(
    path,
    await ldmUNet(join(TINY_SD, 'unet'), TINY_SD_UNET),
    await ldmVae(join(TINY_SD, 'vae')),
    await ldmClipText(join(TINY_SD, 'text_encoder'), 'cond_stage_model.transformer.'),
    ldmExtras(),
    extra,
  );
  return path;
}

async function sdxlFile(dir: string): Promise<string> {
  const path = join(dir, 'tiny-sdxl.safetensors');
  await writeCheckpoint(
    path,
    await ldmUNet(join(TINY_SDXL, 'unet'), TINY_SDXL_UNET),
    await ldmVae(join(TINY_SDXL, 'vae')),
    await ldmClipText(join(TINY_SDXL, 'text_encoder'), 'conditioner.embedders.0.transformer.'),
    await ldmOpenClipText(join(TINY_SDXL, 'text_encoder_2'), 'conditioner.embedders.1.model.'),
    ldmExtras(),
  );
  return path;
}

/**
 * The single file's weights for `component` are the diffusers folder's, byte for byte and under the same names
 * and shapes, and point into the checkpoint (no converted copy).
 */
async function expectSameWeights(single: DiffusersFolder, folder: DiffusersFolder, component: string) {
  const ours = await openWeights(single, component);
  const theirs = await openWeights(folder, component);
  expect([...ours.tensors.keys()].sort()).toEqual([...theirs.tensors.keys()].sort());
  for (const [name, entry] of theirs.tensors) {
    const mine = ours.get(name);
    expect(mine.file.path).toBe(single.checkpoint);
    expect([mine.info.shape, mine.info.dtype]).toEqual([entry.info.shape, entry.info.dtype]);
    const [a, b] = [await ours.get(name).file.readRaw(name), await entry.file.readRaw(name)];
    expect(Buffer.from(a).equals(Buffer.from(b)), `${component} ${name}`).toBe(true);
  }
}

describe('original key names at full size', () => {
  it('maps SD 1.5 UNet and VAE keys (4 levels, 2 layers per block) as diffusers 0.21.4 does', () => {
    const unet: [string, string][] = [
      ['input_blocks.1.1.proj_in.weight', 'down_blocks.0.attentions.0.proj_in.weight'],
      ['input_blocks.4.0.skip_connection.weight', 'down_blocks.1.resnets.0.conv_shortcut.weight'],
      ['input_blocks.9.0.op.bias', 'down_blocks.2.downsamplers.0.conv.bias'],
      ['input_blocks.11.0.emb_layers.1.weight', 'down_blocks.3.resnets.1.time_emb_proj.weight'],
      ['middle_block.2.out_layers.3.bias', 'mid_block.resnets.1.conv2.bias'],
      ['output_blocks.2.1.conv.weight', 'up_blocks.0.upsamplers.0.conv.weight'],
      ['output_blocks.8.2.conv.weight', 'up_blocks.2.upsamplers.0.conv.weight'],
      [
        'output_blocks.11.1.transformer_blocks.0.ff.net.0.proj.weight',
        'up_blocks.3.attentions.2.transformer_blocks.0.ff.net.0.proj.weight',
      ],
    ];
    for (const [ldm, diffusers] of unet) expect(unetDiffusersName(ldm, 2), ldm).toBe(diffusers);
    expect(unetDiffusersName('input_blocks.3.1.proj_in.weight', 2)).toBeUndefined();
    expect(unetDiffusersName('output_blocks.1.1.conv.weight', 2)).toBeUndefined();

    const vae: [string, string][] = [
      ['decoder.up.3.upsample.conv.weight', 'decoder.up_blocks.0.upsamplers.0.conv.weight'],
      ['decoder.up.0.block.2.norm1.bias', 'decoder.up_blocks.3.resnets.2.norm1.bias'],
      ['encoder.down.1.block.0.nin_shortcut.weight', 'encoder.down_blocks.1.resnets.0.conv_shortcut.weight'],
      ['encoder.mid.attn_1.proj_out.weight', 'encoder.mid_block.attentions.0.to_out.0.weight'],
    ];
    for (const [ldm, diffusers] of vae) expect(vaeTensor(ldm, ldm, 4)?.name, ldm).toBe(diffusers);
    expect(vaeTensor('encoder.mid.attn_1.proj_out.weight', 'x', 4)?.view).toEqual({ kind: 'squeeze' });
  });
});

describe('single-file checkpoints', () => {
  it('reads an SD 1.x file: the diffusers weights in place, and the same UNet output', async () => {
    const dir = await tempDir();
    const path = await sd1File(dir);
    const single = await openModel(path, { configFrom: TINY_SD });
    const folder = await openDiffusersFolder(TINY_SD);
    expect(single.checkpoint).toBe(path);
    expect(single.root).toBe(TINY_SD);
    for (const component of ['unet', 'vae', 'text_encoder'])
      await expectSameWeights(single, folder, component);

    const predict = async (source: DiffusersFolder) => {
      const unet = await loadUNet(source);
      const predictor = await unet.compileNoisePrediction(
        { batch: 1, height: 8, width: 8 },
        { cacheDir: dir },
      );
      const sample = Float32Array.from({ length: 4 * 64 }, (_, i) => Math.sin(i));
      const text = Float32Array.from({ length: 77 * 32 }, (_, i) => Math.cos(i / 7));
      return predictor.predict(sample, 500, text);
    };
    // The same bytes through the same graph: bit-identical.
    expect(await predict(single)).toEqual(await predict(folder));
    // The VAE decoder and text encoder load through the same calls (their checks pass).
    await loadVaeDecoder(single);
    await loadTextEncoder(single);
  });

  it('reads an SD 2.x file: OpenCLIP q/k/v row slices, and the layers past num_hidden_layers left out', async () => {
    const dir = await tempDir();
    const path = join(dir, 'tiny-sd2.safetensors');
    await writeCheckpoint(
      path,
      await ldmUNet(join(TINY_SD, 'unet'), TINY_SD_UNET),
      await ldmVae(join(TINY_SD, 'vae')),
      await ldmOpenClipText(join(TINY_SD, 'text_encoder'), 'cond_stage_model.model.', true),
    );
    const single = await openModel(path, { configFrom: TINY_SD });
    await expectSameWeights(single, await openDiffusersFolder(TINY_SD), 'text_encoder');
    const q = (await openWeights(single, 'text_encoder')).get(
      'text_model.encoder.layers.1.self_attn.k_proj.weight',
    );
    expect(q.info.name).toBe('cond_stage_model.model.transformer.resblocks.1.attn.in_proj_weight');
  });

  it('reads an SDXL base file: both text encoders, text_projection transposed in the graph', async () => {
    const dir = await tempDir();
    const single = await openModel(await sdxlFile(dir), { configFrom: TINY_SDXL });
    const folder = await openDiffusersFolder(TINY_SDXL);
    for (const component of ['unet', 'vae', 'text_encoder', 'text_encoder_2']) {
      await expectSameWeights(single, folder, component);
    }
    const projection = (await openWeights(single, 'text_encoder_2')).get('text_projection.weight');
    expect([projection.transposed, projection.info.shape]).toEqual([true, [24, 36]]);

    const embeds = async (source: DiffusersFolder) => {
      const encoder = await loadTextEncoder(source, { component: 'text_encoder_2' });
      const compiled = await encoder.compile({ batch: 1, outputs: ['text_embeds'], cacheDir: dir });
      const ids = [[49406, 320, 1929, 49407, ...Array(73).fill(0)]];
      return (await compiled.run(ids)).data as Float32Array;
    };
    // Not bit-identical: the file stores text_projection transposed, so ONNX Runtime multiplies by it in the
    // other layout (its Transpose folded into the Gemm), which sums in another order. Measured: max |Δ| 1.8e-7
    // for max |embeds| 2.19 (8e-8 relative, float32 rounding).
    const [fromFile, fromFolder] = [await embeds(single), await embeds(folder)];
    const scale = Math.max(...Array.from(fromFolder, Math.abs));
    const maxDiff = Math.max(...Array.from(fromFile, (v, i) => Math.abs(v - fromFolder[i]!)));
    expect(maxDiff).toBeLessThanOrEqual(1e-6 * scale);
    await loadUNet(single);
    await loadVaeDecoder(single);
  });

  it('refuses unknown keys, a truncated file, the SDXL refiner and inpainting, one line each', async () => {
    const dir = await tempDir();
    const one = (data: number) => ({ dtype: 'F32' as const, shape: [1], data: Float32Array.of(data) });
    const lora = await sd1File(dir, { 'lora_te_text_model_encoder_layers_0_mlp_fc1.alpha': one(2) }, 'lora');
    expect((await userErrorOf(openModel(lora, { configFrom: TINY_SD }))).message).toMatch(/is a LoRA/);

    const unknownOnly = await sd1File(
      dir,
      {
        'model.diffusion_model.input_blocks.1.0.extra_layers.0.weight': one(1),
        'some_wrapper.scale': one(2),
      },
      'unknown',
    );
    expect((await userErrorOf(openModel(unknownOnly, { configFrom: TINY_SD }))).message).toBe(
      `${unknownOnly}: 2 keys are not those of a Stable Diffusion 1.x checkpoint in the original layout: ` +
        'model.diffusion_model.input_blocks.1.0.extra_layers.0.weight, some_wrapper.scale',
    );

    const truncated = join(dir, 'truncated.safetensors');
    await writeFile(truncated, await readFile(await sd1File(dir)));
    await truncate(truncated, 5000);
    const truncatedMessage = (await userErrorOf(openModel(truncated, { configFrom: TINY_SD }))).message;
    expect(truncatedMessage).toMatch(/truncated/);
    expect(truncatedMessage).not.toMatch(/\n/);

    const refiner = join(dir, 'refiner.safetensors');
    await writeCheckpoint(
      refiner,
      await ldmUNet(join(TINY_SDXL, 'unet'), TINY_SDXL_UNET),
      await ldmOpenClipText(join(TINY_SDXL, 'text_encoder_2'), 'conditioner.embedders.0.model.'),
    );
    expect((await userErrorOf(openModel(refiner, { configFrom: TINY_SDXL }))).message).toBe(
      `${refiner}: is an SDXL refiner checkpoint (one OpenCLIP text encoder, conditioner.embedders.0.model.*), ` +
        'which this program does not run; give an SDXL base checkpoint',
    );

    const inpainting = join(dir, 'inpainting.safetensors');
    const unet = await ldmUNet(join(TINY_SD, 'unet'), TINY_SD_UNET);
    const convIn = unet['model.diffusion_model.input_blocks.0.0.weight'];
    unet['model.diffusion_model.input_blocks.0.0.weight'] = {
      dtype: 'F32',
      shape: [convIn.shape[0], 9, 3, 3],
      data: new Float32Array(convIn.shape[0] * 9 * 9),
    };
    await writeCheckpoint(inpainting, unet);
    expect((await userErrorOf(openModel(inpainting, { configFrom: TINY_SD }))).message).toMatch(
      /is an inpainting checkpoint \(its UNet takes 9 input channels\)/,
    );

    // A file without a VAE: the config folder's own VAE weights are not taken instead.
    const noVae = join(dir, 'no-vae.safetensors');
    await writeCheckpoint(
      noVae,
      await ldmUNet(join(TINY_SD, 'unet'), TINY_SD_UNET),
      await ldmClipText(join(TINY_SD, 'text_encoder'), 'cond_stage_model.transformer.'),
    );
    const withoutVae = await openModel(noVae, { configFrom: TINY_SD });
    expect((await userErrorOf(loadVaeDecoder(withoutVae))).message).toBe(
      `${noVae} holds no weights of the "vae" component`,
    );
  });

  it('says when the configs are of another family, or disagree with a tensor (naming both keys)', async () => {
    const dir = await tempDir();
    const path = await sdxlFile(dir);
    expect((await userErrorOf(openModel(path, { configFrom: TINY_SD }))).message).toBe(
      `${path} is an SDXL base checkpoint, but the configs of ${TINY_SD} are a StableDiffusionPipeline's; ` +
        'give a StableDiffusionXLPipeline folder or repo to take the configs from',
    );

    const configs = join(dir, 'configs');
    await cp(TINY_SD, configs, { recursive: true, filter: (source) => !source.endsWith('.safetensors') });
    const unetConfig = JSON.parse(await readFile(join(configs, 'unet/config.json'), 'utf8'));
    await writeFile(
      join(configs, 'unet/config.json'),
      JSON.stringify({ ...unetConfig, cross_attention_dim: 48 }),
    );
    const single = await openModel(await sd1File(dir), { configFrom: configs });
    const message = (await userErrorOf(loadUNet(single))).message;
    expect(message).toMatch(
      /wrong shape .*down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn2\.to_k\.weight \(stored as model\.diffusion_model\.input_blocks\.1\.1\.transformer_blocks\.0\.attn2\.to_k\.weight\) is \[32, 32\] .*expected \[32, 48\]/,
    );
  });

  it('refuses a .ckpt and configFrom for a diffusers folder', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'model.ckpt'), 'pickle');
    expect((await userErrorOf(openModel(join(dir, 'model.ckpt')))).message).toMatch(
      /only .safetensors single-file checkpoints are read/,
    );
    expect((await userErrorOf(openModel(TINY_SD, { configFrom: TINY_SDXL }))).message).toMatch(
      /only for a single-file checkpoint/,
    );
  });
});

describe('single-file configs from the Hub', () => {
  let hub: FakeHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it("downloads only the base model's configs and tokenizer, never its weights", async () => {
    const REPO = 'stable-diffusion-v1-5/stable-diffusion-v1-5';
    const COMMIT = 'aaaabbbbccccddddeeeeffff0000111122223333';
    hub = await startFakeHub([{ repoId: REPO, commit: COMMIT, files: await readTree(TINY_SD) }]);
    const dir = await tempDir();
    const env = { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: join(dir, 'cache'), HF_HOME: join(dir, 'home') };
    const single = await openModel(await sd1File(dir), { env, ...quiet });
    expect(single.root).toBe(
      join(dir, 'cache/models--stable-diffusion-v1-5--stable-diffusion-v1-5/snapshots', COMMIT),
    );
    const asked = hub.requests.flatMap((r) => /\/resolve\/[^/]+\/(.+)$/.exec(r.path)?.[1] ?? []);
    expect([...new Set(asked)].sort()).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      'text_encoder/config.json',
      'tokenizer/merges.txt',
      'tokenizer/special_tokens_map.json',
      'tokenizer/tokenizer_config.json',
      'tokenizer/vocab.json',
      'unet/config.json',
      'vae/config.json',
    ]);
    expect(hub.requests.some((r) => r.path.startsWith('/cdn/'))).toBe(false);
    await loadUNet(single);
  });
});
