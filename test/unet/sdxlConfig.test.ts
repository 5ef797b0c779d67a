import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { loadUNet, parseUNetConfig } from '../../src/models/unet/index.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { TINY_SDXL } from './sdxlFixtures.ts';

const SDXL_UNET = join(TINY_SDXL, 'unet');
const sdxlConfig = async () =>
  JSON.parse(await readFile(join(SDXL_UNET, 'config.json'), 'utf8')) as Record<string, unknown>;

const root = join(tmpdir(), `dnb-unet-sdxl-config-${process.pid}`);
afterAll(() => rm(root, { recursive: true, force: true }));
let folders = 0;

/** A unet/ folder with `config` and tiny-sdxl's weights minus those `drop` names. */
async function unetFolder(config: Record<string, unknown>, drop: (name: string) => boolean): Promise<string> {
  const file = await openSafetensors(join(SDXL_UNET, 'diffusion_pytorch_model.safetensors'));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, info] of file.tensors) {
    if (!drop(name))
      tensors[name] = { dtype: 'F32', shape: [...info.shape], data: await file.readFloat32(name) };
  }
  const dir = join(root, `unet-${folders++}`);
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, 'diffusion_pytorch_model.safetensors'), tensors);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

describe("SDXL's UNet config (addition_embed_type text_time)", () => {
  it('SDXL base 1.0 values: pooled width 2816 − 6·256 = 1280, heads and depths per block', async () => {
    // The values of stabilityai/stable-diffusion-xl-base-1.0's unet/config.json (fixtures README, "SDXL").
    const config = parseUNetConfig('unet/config.json', {
      ...(await sdxlConfig()),
      block_out_channels: [320, 640, 1280],
      attention_head_dim: [5, 10, 20],
      transformer_layers_per_block: [1, 2, 10],
      cross_attention_dim: 2048,
      addition_time_embed_dim: 256,
      projection_class_embeddings_input_dim: 2816,
      norm_num_groups: 32,
    });
    expect(config.addition).toEqual({
      type: 'text_time',
      timeEmbedDim: 256,
      projectionInputDim: 2816,
      pooledDim: 1280,
    });
    expect(config.heads).toEqual([5, 10, 20]);
    expect(config.transformerLayersPerBlock).toEqual([1, 2, 10]);
    expect(config.timeEmbedDim).toBe(1280);
  });

  it('SD configs (no addition_embed_type, or null) have no addition', async () => {
    expect(parseUNetConfig('c', {}).addition).toBeNull();
    expect(parseUNetConfig('c', { ...(await sdxlConfig()), addition_embed_type: null }).addition).toBeNull();
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    [
      'another addition_embed_type',
      { addition_embed_type: 'text' },
      /^unet\/config\.json: "addition_embed_type" is "text", which is not supported \(supported: "text_time" \(SDXL\) or null\)$/,
    ],
    [
      'image addition',
      { addition_embed_type: 'image_hint' },
      /"addition_embed_type" is "image_hint", which is not supported/,
    ],
    [
      'text_time without addition_time_embed_dim',
      { addition_time_embed_dim: null },
      /^unet\/config\.json: "addition_embed_type" is "text_time", which needs "addition_time_embed_dim" \(a positive integer; SDXL: 256\)$/,
    ],
    [
      'text_time without projection_class_embeddings_input_dim',
      { projection_class_embeddings_input_dim: undefined },
      /which needs "projection_class_embeddings_input_dim" \(a positive integer; SDXL: 2816\)$/,
    ],
    [
      'a non-integer addition_time_embed_dim',
      { addition_time_embed_dim: 8.5 },
      /"addition_time_embed_dim" is 8.5, which is not supported \(expected a positive integer\)/,
    ],
    [
      'a projection input that leaves no room for the pooled embedding',
      { projection_class_embeddings_input_dim: 48 },
      /"projection_class_embeddings_input_dim" is 48, which is not supported \(it must be the pooled text embedding's width plus 6 × addition_time_embed_dim = 48\)/,
    ],
  ];
  for (const [what, change, message] of refusals) {
    it(`refuses ${what} with a UserError naming the key`, async () => {
      const raw = { ...(await sdxlConfig()), ...change };
      expect(() => parseUNetConfig('unet/config.json', raw)).toThrow(UserError);
      expect(() => parseUNetConfig('unet/config.json', raw)).toThrow(message);
    });
  }

  it("loadUNet's weight check names a missing add_embedding tensor", async () => {
    const dir = await unetFolder(await sdxlConfig(), (name) => name === 'add_embedding.linear_1.weight');
    await expect(loadUNet(dir)).rejects.toThrow(UserError);
    await expect(loadUNet(dir)).rejects.toThrow(/missing 1 tensor: add_embedding\.linear_1\.weight/);
  });

  it("loadUNet's weight check names add_embedding tensors a config without the addition does not use", async () => {
    const dir = await unetFolder({ ...(await sdxlConfig()), addition_embed_type: null }, () => false);
    await expect(loadUNet(dir)).rejects.toThrow(/unexpected 4 tensors: add_embedding\./);
  });

  it("loadUNet's weight check names an add_embedding of the wrong width", async () => {
    // A pooled width of 32 (projection 80) does not fit the file's linear_1 [32, 72].
    const dir = await unetFolder(
      { ...(await sdxlConfig()), projection_class_embeddings_input_dim: 80 },
      () => false,
    );
    await expect(loadUNet(dir)).rejects.toThrow(
      /add_embedding\.linear_1\.weight is \[32, 72\].*expected \[32, 80\]/,
    );
  });
});
