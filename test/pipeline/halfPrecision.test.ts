import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import { golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { stablePurpleDog } from '../helpers/stableRuns.ts';
import { expectClose } from '../helpers/tensors.ts';

let sd: StableDiffusion;
beforeAll(async () => {
  sd = await StableDiffusion.load(TINY_SD, { cacheDir: tempDir(), threads: 1, dtype: 'float16' });
});
afterAll(() => sd.release());

/**
 * A float16 UNet (attention scores, softmax and norms in float32) against the float32 goldens. float16 keeps 11
 * significant bits (relative rounding 4.9e-4 per operation); over a 10-step trajectory through 2 × 10 UNet
 * passes the measured difference is 1.7e-3 (DDIM) and 1.9e-3 (D&B) of max |ref|, so 1e-2 bounds it with margin while a wrong op (or
 * an fp16 overflow) gives errors of order 1.
 */
describe('a float16 UNet', () => {
  it('stays within 1e-2 of the float32 plain-SD golden (10 DDIM steps)', async () => {
    expect(sd.unet.dtype).toBe('float16');
    const { images } = await sd.generate({
      prompt: 'a cat and a frog',
      latents: await golden('cat_frog', 'init_latent'),
      steps: 10,
      scheduler: 'ddim',
    });
    expectClose(images[0].latents, await golden('cat_frog', 'sched_ddim/final_latents'), 1e-2);
  });

  it('guides with Divide & Bind within 1e-2 of the float32 stable golden run', async () => {
    const { request, expected } = await stablePurpleDog();
    const { images } = await sd.generate(request);
    expectClose(images[0].latents, expected, 1e-2);
  });
});
