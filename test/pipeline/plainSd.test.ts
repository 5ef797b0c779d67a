import { afterAll, beforeAll, describe, it } from 'vitest';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import type { SchedulerKind } from '../../src/schedulers/scheduler.ts';
import { GOLDEN_PROMPTS, golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';

let sd: StableDiffusion;
beforeAll(async () => {
  sd = await StableDiffusion.load(TINY_SD, { cacheDir: tempDir(), threads: 1 });
});
afterAll(() => sd.release());

const PROMPTS: Record<string, string> = {
  purple_dog_green_crown: 'a purple dog and a green crown',
  three_geese: 'three geese floating in the middle of a river',
  cat_frog: 'a cat and a frog',
};

/**
 * Plain Stable Diffusion from the stored initial latents against diffusers 0.21.4. Tolerance 1e-3 of max |ref|
 * for final latents and the decoded image (fixtures README: float32 vs float64 of the reference differs by
 * ~2e-6; summation order in ONNX Runtime differs from PyTorch's).
 */
describe.each(GOLDEN_PROMPTS)('plain SD on %s', (key) => {
  it('50 PNDM steps give the golden final latents and image', async () => {
    const { images } = await sd.generate({
      prompt: PROMPTS[key],
      latents: await golden(key, 'init_latent'),
      steps: 50,
      guidanceScale: 7.5,
    });
    expectClose(images[0].latents, await golden(key, 'gen_sd/final_latents'), 1e-3);
  });

  for (const [kind, name] of [
    ['ddim', 'sched_ddim'],
    ['euler', 'sched_euler'],
    ['dpm++', 'sched_dpmpp2m'],
  ] as const) {
    it(`10 ${kind} steps give the golden final latents`, async () => {
      const { images } = await sd.generate({
        prompt: PROMPTS[key],
        latents: await golden(key, 'init_latent'),
        steps: 10,
        scheduler: kind as SchedulerKind,
      });
      expectClose(images[0].latents, await golden(key, `${name}/final_latents`), 1e-3);
    });
  }
});
