import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { imageToRgb8 } from '../../src/models/vae/rgb.ts';
import { loadVaeDecoder } from '../../src/models/vae/vaeDecoder.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { GOLDEN, GOLDEN_PROMPTS, golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { expectClose, maxAbsDiff } from '../helpers/tensors.ts';

// About 10× the measured error (the fixtures README's 1e-3 would let an approximated layer pass). The
// decoder's input here is final_latents / 0.18215 (values up to ~300), and a float32 re-implementation sums its
// convolutions and group norms in another order than PyTorch's CPU kernels: measured ≤ 8.1e-7 of max |ref| over
// the three prompts and the legacy attention names.
const IMAGE_TOLERANCE = 1e-5;
const SCALING_FACTOR = 0.18215;

const cacheDir = tempDir('dnb-vae-');
const folders: string[] = [];
afterAll(async () => {
  await Promise.all([cacheDir, ...folders].map((dir) => rm(dir, { recursive: true, force: true })));
});

function newFolder(): string {
  const dir = tempDir('dnb-vae-model-');
  folders.push(dir);
  return dir;
}

async function tinyVaeTensors(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const file = await openSafetensors(join(TINY_SD, 'vae/diffusion_pytorch_model.safetensors'));
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, info] of file.tensors)
    out.set(name, { shape: [...info.shape], data: await file.readFloat32(name) });
  return out;
}

async function writeVaeFolder(
  root: string,
  config: Record<string, unknown>,
  tensors: Record<string, TensorToWrite>,
): Promise<void> {
  await mkdir(join(root, 'vae'), { recursive: true });
  await writeFile(
    join(root, 'model_index.json'),
    JSON.stringify({ _class_name: 'StableDiffusionPipeline', vae: ['diffusers', 'AutoencoderKL'] }),
  );
  await writeFile(join(root, 'vae/config.json'), JSON.stringify(config));
  await writeSafetensors(join(root, 'vae/diffusion_pytorch_model.safetensors'), tensors);
}

async function tinyConfig(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(TINY_SD, 'vae/config.json'), 'utf8'));
}

async function pngPixels(path: string): Promise<Uint8Array> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

describe('AutoencoderKL decoder on the tiny-sd fixture', () => {
  it('decodes gen_sd/final_latents to gen_sd/image and the PNG for every golden prompt', async () => {
    const vae = await loadVaeDecoder(TINY_SD);
    expect(vae.scaleFactor).toBe(2);
    const compiled = await vae.compile({ batch: 1, latentHeight: 32, latentWidth: 32, cacheDir });
    for (const prompt of GOLDEN_PROMPTS) {
      // The graph divides by scaling_factor, so it takes the latents as the pipeline holds them.
      const image = await compiled.run(await golden(prompt, 'gen_sd/final_latents'));
      expect(image.shape).toEqual([1, 3, 64, 64]);
      expectClose(image.data as Float32Array, await golden(prompt, 'gen_sd/image'), IMAGE_TOLERANCE);

      const png = await pngPixels(join(GOLDEN, `${prompt}_sd.png`));
      const [rgb] = imageToRgb8(image);
      expect([rgb.width, rgb.height]).toEqual([64, 64]);
      // Within 1 level: a value on a rounding boundary may land on either side.
      expect(maxAbsDiff(rgb.data, png)).toBeLessThanOrEqual(1);
    }
    await compiled.release();
  });

  it('converts the reference float image to exactly the golden PNG (numpy_to_pil rounding)', async () => {
    for (const prompt of GOLDEN_PROMPTS) {
      const [rgb] = imageToRgb8({ data: await golden(prompt, 'gen_sd/image'), shape: [1, 3, 64, 64] });
      expect(maxAbsDiff(rgb.data, await pngPixels(join(GOLDEN, `${prompt}_sd.png`)))).toBe(0);
    }
    const [clamped] = imageToRgb8({ data: Float32Array.from([-3, 0, 3]), shape: [1, 3, 1, 1] });
    expect([...clamped.data]).toEqual([0, 128, 255]);
  });

  it('decodes unscaled latents when asked, and a batch of three as the single decodes', async () => {
    const vae = await loadVaeDecoder(TINY_SD);
    const batch = await vae.compile({ batch: 3, latentHeight: 32, latentWidth: 32, cacheDir });
    const latents = new Float32Array(3 * 4 * 32 * 32);
    for (const [i, prompt] of GOLDEN_PROMPTS.entries()) {
      latents.set(await golden(prompt, 'gen_sd/final_latents'), i * 4096);
    }
    const images = (await batch.run(latents)).data as Float32Array;
    for (const [i, prompt] of GOLDEN_PROMPTS.entries()) {
      expectClose(
        images.subarray(i * 12288, (i + 1) * 12288),
        await golden(prompt, 'gen_sd/image'),
        IMAGE_TOLERANCE,
      );
    }
    await batch.release();

    const unscaled = await vae.compile({
      batch: 1,
      latentHeight: 32,
      latentWidth: 32,
      scaledInput: false,
      cacheDir,
    });
    const z = (await golden(GOLDEN_PROMPTS[1], 'gen_sd/final_latents')).map((v) => v / SCALING_FACTOR);
    expectClose((await unscaled.run(z)).data as Float32Array, images.subarray(12288, 24576), 1e-6);
    await unscaled.release();
  });
});

describe('AutoencoderKL decoder configurations and files', () => {
  it('reads the legacy mid-block attention names (query/key/value/proj_attn) as to_q/to_k/to_v/to_out.0', async () => {
    const legacy: Record<string, string> = {
      to_q: 'query',
      to_k: 'key',
      to_v: 'value',
      'to_out.0': 'proj_attn',
    };
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, t] of await tinyVaeTensors()) {
      const renamed = name.replace(
        /attentions\.0\.(to_q|to_k|to_v|to_out\.0)\./,
        (_m, p: string) => `attentions.0.${legacy[p]}.`,
      );
      tensors[renamed] = { dtype: 'F32', ...t };
    }
    expect(Object.keys(tensors)).toContain('decoder.mid_block.attentions.0.proj_attn.weight');
    const root = newFolder();
    await writeVaeFolder(root, await tinyConfig(), tensors);
    const compiled = await (await loadVaeDecoder(root)).compile({
      batch: 1,
      latentHeight: 32,
      latentWidth: 32,
      cacheDir,
    });
    const prompt = GOLDEN_PROMPTS[2];
    const image = await compiled.run(await golden(prompt, 'gen_sd/final_latents'));
    expectClose(image.data as Float32Array, await golden(prompt, 'gen_sd/image'), IMAGE_TOLERANCE);
    await compiled.release();
  });

  it('names the file and the key of a missing weight; encoder-side tensors are not required', async () => {
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, t] of await tinyVaeTensors()) {
      if (name !== 'decoder.up_blocks.1.resnets.0.conv_shortcut.bias' && !name.startsWith('encoder.')) {
        tensors[name] = { dtype: 'F32', ...t };
      }
    }
    const root = newFolder();
    await writeVaeFolder(root, await tinyConfig(), tensors);
    const error = await loadVaeDecoder(root).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message).toContain(join(root, 'vae/diffusion_pytorch_model.safetensors'));
    expect(message).toContain('missing 1 tensor: decoder.up_blocks.1.resnets.0.conv_shortcut.bias');
    expect(message).not.toContain('unexpected');
  });

  it('builds other configs: three blocks, two layers per block, 8 groups, no post_quant_conv', async () => {
    const config = {
      _class_name: 'AutoencoderKL',
      block_out_channels: [16, 32, 32],
      up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
      layers_per_block: 2,
      norm_num_groups: 8,
      latent_channels: 4,
      out_channels: 3,
      scaling_factor: 0.13025,
      use_post_quant_conv: false,
    };
    // An independent listing of diffusers' decoder tensors: loading checks it is exactly the set the
    // implementation reads, with the same shapes.
    const root = newFolder();
    const shapes = decoderShapes(config);
    const tensors: Record<string, TensorToWrite> = {};
    let seed = 1;
    for (const [name, shape] of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const fan = shape.length === 4 ? shape[1] * shape[2] * shape[3] : shape.length === 2 ? shape[1] : 0;
      const data = Float32Array.from({ length: n }, () => {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        const u = seed / 2 ** 32 - 0.5;
        return fan ? (2 * u) / Math.sqrt(fan) : name.endsWith('weight') ? 1 + 0.2 * u : 0.1 * u;
      });
      tensors[name] = { dtype: 'F32', shape, data };
    }
    // Encoder-side tensors are allowed and ignored.
    tensors['encoder.conv_in.bias'] = { dtype: 'F32', shape: [16], data: new Float32Array(16) };
    tensors['quant_conv.bias'] = { dtype: 'F32', shape: [8], data: new Float32Array(8) };
    await writeVaeFolder(root, config, tensors);
    const vae = await loadVaeDecoder(root);
    expect(vae.scaleFactor).toBe(4);
    const compiled = await vae.compile({ batch: 2, latentHeight: 5, latentWidth: 6, cacheDir });
    const image = await compiled.run(Float32Array.from({ length: 2 * 4 * 30 }, (_, i) => Math.sin(i) * 0.5));
    expect(image.shape).toEqual([2, 3, 20, 24]);
    expect((image.data as Float32Array).every(Number.isFinite)).toBe(true);
    await compiled.release();
  });

  it('rejects unsupported config values by key and value', async () => {
    const root = newFolder();
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, t] of await tinyVaeTensors()) tensors[name] = { dtype: 'F32', ...t };
    const config = await tinyConfig();
    await writeVaeFolder(
      root,
      { ...config, up_block_types: ['UpDecoderBlock2D', 'AttnUpDecoderBlock2D'] },
      tensors,
    );
    await expect(loadVaeDecoder(root)).rejects.toThrow(
      /"up_block_types" is \["UpDecoderBlock2D","AttnUpDecoderBlock2D"\]/,
    );
    await writeFile(join(root, 'vae/config.json'), JSON.stringify({ ...config, act_fn: 'mish' }));
    await expect(loadVaeDecoder(root)).rejects.toThrow(/"act_fn" is "mish", which is not supported/);
    await writeFile(join(root, 'vae/config.json'), JSON.stringify({ ...config, norm_num_groups: 24 }));
    await expect(loadVaeDecoder(root)).rejects.toThrow(/"norm_num_groups" is 24/);
  });
});

/** The decoder tensors of a config, listed independently of the implementation from diffusers' module tree. */
function decoderShapes(config: {
  block_out_channels: number[];
  layers_per_block: number;
  latent_channels: number;
  out_channels: number;
}): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const conv = (name: string, out: number, cin: number, k: number) => {
    shapes.set(`${name}.weight`, [out, cin, k, k]);
    shapes.set(`${name}.bias`, [out]);
  };
  const vector = (name: string, c: number) => {
    shapes.set(`${name}.weight`, [c]);
    shapes.set(`${name}.bias`, [c]);
  };
  const resnet = (name: string, cin: number, out: number) => {
    vector(`${name}.norm1`, cin);
    conv(`${name}.conv1`, out, cin, 3);
    vector(`${name}.norm2`, out);
    conv(`${name}.conv2`, out, out, 3);
    if (cin !== out) conv(`${name}.conv_shortcut`, out, cin, 1);
  };
  const reversed = [...config.block_out_channels].reverse();
  const top = reversed[0];
  conv('decoder.conv_in', top, config.latent_channels, 3);
  resnet('decoder.mid_block.resnets.0', top, top);
  vector('decoder.mid_block.attentions.0.group_norm', top);
  for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
    shapes.set(`decoder.mid_block.attentions.0.${p}.weight`, [top, top]);
    shapes.set(`decoder.mid_block.attentions.0.${p}.bias`, [top]);
  }
  resnet('decoder.mid_block.resnets.1', top, top);
  let previous = top;
  for (const [i, out] of reversed.entries()) {
    for (let j = 0; j <= config.layers_per_block; j++) {
      resnet(`decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? previous : out, out);
    }
    if (i < reversed.length - 1) conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, out, out, 3);
    previous = out;
  }
  vector('decoder.conv_norm_out', reversed[reversed.length - 1]);
  conv('decoder.conv_out', config.out_channels, reversed[reversed.length - 1], 3);
  return shapes;
}
