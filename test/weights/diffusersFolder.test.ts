import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import {
  openDiffusersFolder,
  openWeights,
  readComponentConfig,
  SD_COMPONENTS,
} from '../../src/weights/diffusersFolder.ts';
import { parsePythonJson } from '../../src/weights/pythonJson.ts';
import { checkTensors, openComponentWeights } from '../../src/weights/weightIndex.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { useTempDirs } from './tempDir.ts';
import { TINY_TENSORS, tinyValues, writeTinyPipelineFolder } from './tinyPipelineFolder.ts';

const tempDir = useTempDirs();

async function tinyFolder(options: Parameters<typeof writeTinyPipelineFolder>[1] = {}): Promise<string> {
  const root = join(await tempDir(), 'tiny-sd');
  await writeTinyPipelineFolder(root, options);
  return root;
}

describe('openDiffusersFolder', () => {
  it('opens the tiny-sd layout: components, configs, single-file weights', async () => {
    const root = await tinyFolder();
    const folder = await openDiffusersFolder(root);
    expect(folder.pipelineClass).toBe('StableDiffusionPipeline');
    expect([...folder.components.keys()]).toEqual([...SD_COMPONENTS]);
    expect(folder.components.get('unet')).toEqual({
      name: 'unet',
      library: 'diffusers',
      className: 'UNet2DConditionModel',
      dir: join(root, 'unet'),
    });
    const unetConfig = await readComponentConfig(folder, 'unet');
    expect(unetConfig['block_out_channels']).toEqual([32, 64, 64]);
    expect((await readComponentConfig(folder, 'scheduler'))['_class_name']).toBe('PNDMScheduler');
    expect((await readComponentConfig(folder, 'tokenizer'))['model_max_length']).toBe(77);

    const unet = await openWeights(folder, 'unet');
    expect(unet.files.map((f) => f.path)).toEqual([join(root, 'unet/diffusion_pytorch_model.safetensors')]);
    expect([...unet.tensors.keys()].sort()).toEqual(Object.keys(TINY_TENSORS.unet).sort());
    expect(await unet.readFloat32('conv_in.bias')).toEqual(tinyValues('conv_in.bias', [4]));
    const textEncoder = await openWeights(folder, 'text_encoder');
    expect(textEncoder.files[0].path).toBe(join(root, 'text_encoder/model.safetensors'));
  });

  it('picks the fp16 variant on request and converts it to float32', async () => {
    const root = await tinyFolder({ fp16: true });
    const folder = await openDiffusersFolder(root);
    const vae = await openWeights(folder, 'vae', { variant: 'fp16' });
    expect(vae.files[0].path).toBe(join(root, 'vae/diffusion_pytorch_model.fp16.safetensors'));
    expect(vae.get('decoder.conv_in.bias').info.dtype).toBe('F16');
    // The tiny values are multiples of 1/8 around 100: exact in half precision.
    expect(await vae.readFloat32('decoder.conv_in.bias')).toEqual(
      tinyValues('decoder.conv_in.bias', [4], 100),
    );
    const plain = await openWeights(folder, 'vae');
    expect(plain.get('decoder.conv_in.bias').info.dtype).toBe('F32');
  });

  it('reads sharded weights through the index, plain and fp16 variant', async () => {
    const root = await tinyFolder({ shardedUnet: true, fp16: true });
    const unet = await openComponentWeights(join(root, 'unet'));
    expect(unet.files.map((f) => f.path.split('/').pop())).toEqual([
      'diffusion_pytorch_model-00001-of-00002.safetensors',
      'diffusion_pytorch_model-00002-of-00002.safetensors',
    ]);
    expect(await unet.readFloat32('conv_out.bias')).toEqual(tinyValues('conv_out.bias', [4]));
    expect(await unet.readFloat32('conv_in.weight')).toEqual(tinyValues('conv_in.weight', [4, 4, 3, 3]));

    const half = await openComponentWeights(join(root, 'unet'), { variant: 'fp16' });
    expect(half.files[0].path).toMatch(/diffusion_pytorch_model\.fp16-00001-of-00002\.safetensors$/);
    expect(await half.readFloat32('conv_in.bias')).toEqual(tinyValues('conv_in.bias', [4], 100));
  });

  it('accepts the transformers naming of a variant index (model.safetensors.index.fp16.json)', async () => {
    const root = await tinyFolder({ shardedUnet: true, fp16: true });
    const dir = join(root, 'unet');
    await rename(
      join(dir, 'diffusion_pytorch_model.safetensors.fp16.index.json'),
      join(dir, 'diffusion_pytorch_model.safetensors.index.fp16.json'),
    );
    const half = await openComponentWeights(dir, { variant: 'fp16' });
    expect(half.tensors.size).toBe(3);
  });
});

describe('diffusers folder errors', () => {
  it('says when the folder, model_index.json or a component is missing', async () => {
    const dir = await tempDir();
    expect((await userErrorOf(openDiffusersFolder(join(dir, 'nope')))).message).toMatch(
      /model folder .*nope not found; give a diffusers folder \(with model_index.json\) or a Hugging Face repo id/,
    );
    await writeFile(join(dir, 'model.ckpt'), 'x');
    expect((await userErrorOf(openDiffusersFolder(join(dir, 'model.ckpt')))).message).toMatch(
      /is a file, not a diffusers folder/,
    );
    expect((await userErrorOf(openDiffusersFolder(dir))).message).toMatch(
      /has no model_index.json, so it is not a diffusers pipeline folder/,
    );

    const root = await tinyFolder();
    await rm(join(root, 'vae'), { recursive: true });
    expect((await userErrorOf(openDiffusersFolder(root))).message).toMatch(
      /the "vae" component folder is missing/,
    );

    const index = JSON.parse(await readFile(join(root, 'model_index.json'), 'utf8'));
    index.unet = [null, null];
    await writeFile(join(root, 'model_index.json'), JSON.stringify(index));
    expect((await userErrorOf(openDiffusersFolder(root))).message).toMatch(
      /model_index.json: does not list the "unet" component/,
    );
    await writeFile(join(root, 'model_index.json'), '{"unet": [');
    expect((await userErrorOf(openDiffusersFolder(root))).message).toMatch(
      /model_index.json: not valid JSON/,
    );
  });

  it('lists the names looked for when weights are missing, and mentions --variant', async () => {
    const root = await tinyFolder();
    await rm(join(root, 'unet/diffusion_pytorch_model.safetensors'));
    const message = (await userErrorOf(openComponentWeights(join(root, 'unet')))).message;
    expect(message).toMatch(/unet: no safetensors weights found/);
    expect(message).toMatch(/looked for model.safetensors, diffusion_pytorch_model.safetensors/);
    expect(message).toMatch(/diffusion_pytorch_model.safetensors.index.json/);
    expect(message).toMatch(/--variant/);
  });

  it('suggests --variant fp16 when only fp16 files exist, and lists variants when one is missing', async () => {
    const root = await tinyFolder({ plain: false, fp16: true });
    expect((await userErrorOf(openComponentWeights(join(root, 'vae')))).message).toMatch(
      /only variant weights are present .* pass --variant fp16/,
    );
    const plainOnly = await tinyFolder();
    expect(
      (await userErrorOf(openComponentWeights(join(plainOnly, 'vae'), { variant: 'bf16' }))).message,
    ).toMatch(
      /no "bf16" variant of the weights \(looked for model.bf16.safetensors.*available: the plain weights \(leave out --variant\)/,
    );
  });

  it('falls back to PyTorch .bin weights when a folder has no safetensors, naming a file that is not one', async () => {
    const root = await tinyFolder();
    await rm(join(root, 'unet/diffusion_pytorch_model.safetensors'));
    await writeFile(join(root, 'unet/diffusion_pytorch_model.bin'), 'pickle');
    const message = (await userErrorOf(openComponentWeights(join(root, 'unet')))).message;
    expect(message).toMatch(
      /unet\/diffusion_pytorch_model.bin: is not a PyTorch checkpoint \(not a zip archive/,
    );
  });

  it('reports a missing shard and an index that disagrees with its shards', async () => {
    const root = await tinyFolder({ shardedUnet: true });
    const dir = join(root, 'unet');
    const indexPath = join(dir, 'diffusion_pytorch_model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    index.weight_map['conv_in.bias'] = 'diffusion_pytorch_model-00002-of-00002.safetensors';
    await writeFile(indexPath, JSON.stringify(index));
    expect((await userErrorOf(openComponentWeights(dir))).message).toMatch(
      /index.json: says "conv_in.bias" is in diffusion_pytorch_model-00002-of-00002.safetensors, but that shard does not hold it/,
    );
    await rm(join(dir, 'diffusion_pytorch_model-00002-of-00002.safetensors'));
    expect((await userErrorOf(openComponentWeights(dir))).message).toMatch(
      /lists shard files that are missing: diffusion_pytorch_model-00002-of-00002.safetensors/,
    );
    await writeFile(indexPath, JSON.stringify({ weight_map: { x: '../../etc/passwd.safetensors' } }));
    expect((await userErrorOf(openComponentWeights(dir))).message).toMatch(/names an invalid shard/);
  });
});

describe('checkTensors', () => {
  it('passes when names and shapes match, ignoring what the model allows', async () => {
    const root = await tinyFolder();
    const unet = await openComponentWeights(join(root, 'unet'));
    checkTensors(unet, TINY_TENSORS.unet);
    const { 'conv_out.bias': _, ...withoutConvOut } = TINY_TENSORS.unet;
    checkTensors(unet, new Map(Object.entries(withoutConvOut)), {
      ignoreUnexpected: (name) => name === 'conv_out.bias',
    });
  });

  it('names the file and the missing, unexpected and mismatched keys, the first few of each', async () => {
    const root = await tinyFolder();
    const unet = await openComponentWeights(join(root, 'unet'));
    const expected: Record<string, number[]> = {
      'conv_in.weight': [4, 4, 3, 3],
      'conv_in.bias': [8],
      ...Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`missing.${i}`, [1]])),
    };
    let error: unknown;
    try {
      checkTensors(unet, expected);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message).toContain(join(root, 'unet/diffusion_pytorch_model.safetensors'));
    expect(message).toMatch(
      /missing 7 tensors: missing.0, missing.1, missing.2, missing.3, missing.4, … \(2 more\)/,
    );
    expect(message).toMatch(/unexpected 1 tensor: conv_out.bias/);
    expect(message).toMatch(/wrong shape \(1\): conv_in.bias is \[4\] in .*, expected \[8\]/);
  });
});

describe('parsePythonJson', () => {
  it('reads the NaN and Infinity tokens Python writes, leaving strings alone', () => {
    expect(
      parsePythonJson('{"a": -Infinity, "b": [NaN, Infinity, 1e3], "c": "NaN -Infinity \\" Infinity"}'),
    ).toEqual({ a: -Infinity, b: [Number.NaN, Infinity, 1000], c: 'NaN -Infinity " Infinity' });
  });

  it('reads a scheduler config with a non-finite value', async () => {
    const root = await tinyFolder();
    await mkdir(join(root, 'scheduler'), { recursive: true });
    await writeFile(
      join(root, 'scheduler/scheduler_config.json'),
      '{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity}',
    );
    const folder = await openDiffusersFolder(root);
    expect((await readComponentConfig(folder, 'scheduler'))['lambda_min_clipped']).toBe(-Infinity);
  });
});
