import { copyFile, mkdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { stablePurpleDog } from '../helpers/stableRuns.ts';
import { expectClose } from '../helpers/tensors.ts';
import {
  expectFollowsOfficialLog,
  STABLE_GUIDED,
  STABLE_LOSS_FLOOR,
  STABLE_LOSS_REL,
  stableRunLog,
} from './lossLog.ts';

/**
 * The tiny model rewritten in the SD 2.x layout: `use_linear_projection` (the 1×1 proj_in/proj_out convs stored
 * as Linear matrices), per-block head counts and `upcast_attention`. The maths is unchanged (a 1×1 conv and a
 * Linear with the same matrix agree; upcasting is a no-op in float32), so the pipeline must still reproduce the
 * goldens — through code paths the fixture's own config never takes.
 */
async function sd2StyleFolder(): Promise<string> {
  const root = join(tempDir(), 'sd2-style');
  await mkdir(join(root, 'unet'), { recursive: true });
  for (const component of ['text_encoder', 'vae', 'scheduler', 'tokenizer']) {
    await symlink(await realpath(join(TINY_SD, component)), join(root, component));
  }
  await copyFile(join(TINY_SD, 'model_index.json'), join(root, 'model_index.json'));
  const config = JSON.parse(await readFile(join(TINY_SD, 'unet', 'config.json'), 'utf8'));
  const sd2Config = {
    ...config,
    use_linear_projection: true,
    attention_head_dim: [8, 8, 8],
    upcast_attention: true,
  };
  await writeFile(join(root, 'unet', 'config.json'), JSON.stringify(sd2Config));
  const file = await openSafetensors(join(TINY_SD, 'unet', 'diffusion_pytorch_model.safetensors'));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, info] of file.tensors) {
    const projection = /\.proj_(in|out)\.weight$/.test(name);
    const shape = projection ? info.shape.slice(0, 2) : info.shape;
    tensors[name] = { dtype: 'F32', shape, data: await file.readFloat32(name) };
  }
  await writeSafetensors(join(root, 'unet', 'diffusion_pytorch_model.safetensors'), tensors);
  return root;
}

let sd: StableDiffusion;
beforeAll(async () => {
  sd = await StableDiffusion.load(await sd2StyleFolder(), { cacheDir: tempDir(), threads: 1 });
});
afterAll(() => sd.release());

describe('an SD 2.x-layout model', () => {
  it('loads with linear projections and reproduces the 10-step DDIM golden', async () => {
    expect(sd.unet.config.useLinearProjection).toBe(true);
    const { images } = await sd.generate({
      prompt: 'a cat and a frog',
      latents: await golden('cat_frog', 'init_latent'),
      steps: 10,
      scheduler: 'ddim',
    });
    // Measured 2.9e-6 of max |ref|.
    expectClose(images[0].latents, await golden('cat_frog', 'sched_ddim/final_latents'), 3e-5);
  });

  it('runs Divide & Bind with binding through the linear-projection layers (stable golden run)', async () => {
    const { request, expected } = await stablePurpleDog();
    const { images } = await sd.generate(request);
    const official = stableRunLog('purple_dog_green_crown', 'dnb_tv_bind');
    expectFollowsOfficialLog(images[0].trace!, official, STABLE_GUIDED, STABLE_LOSS_REL, STABLE_LOSS_FLOOR);
    // Measured 2.3e-6 of max |ref| (losses: 6.8e-6 per loss).
    expectClose(images[0].latents, expected, 2.5e-5);
  });
});
