import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import { TorchCpuGenerator, TorchCudaGenerator } from '../../src/random/index.ts';
import { golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';

let sd: StableDiffusion;
beforeAll(async () => {
  sd = await StableDiffusion.load(TINY_SD, { cacheDir: tempDir(), threads: 1 });
});
afterAll(() => sd.release());

const CAT_FROG = { prompt: 'a cat and a frog', steps: 10, scheduler: 'ddim' } as const;
const SHAPE = [1, 4, 32, 32];

/**
 * Latents drawn inside the pipeline. The goldens' initial latent is torch.randn((1, 4, 32, 32),
 * generator=torch.Generator('cpu').manual_seed(seed)) (seed 6141 for cat_frog), so a seeded run must give the
 * golden DDIM result without being handed the latent; with two images diffusers draws one [2, 4, 32, 32]
 * tensor, whose first half is that same latent.
 */
describe('seeded runs', () => {
  it('two images from seed 6141: the first is the golden (measured 3.0e-6), the second the run from the second half of the draw', async () => {
    const { images, seed } = await sd.generate({ ...CAT_FROG, seed: 6141, numImages: 2 });
    expect(seed).toBe(6141);
    expect(images).toHaveLength(2);
    expectClose(images[0].latents, await golden('cat_frog', 'sched_ddim/final_latents'), 4e-5);
    const draw = new TorchCpuGenerator(6141).randn([2, ...SHAPE.slice(1)]);
    const second = await sd.generate({ ...CAT_FROG, latents: draw.slice(draw.length / 2) });
    expect(Array.from(images[1].latents)).toEqual(Array.from(second.images[0].latents));
    // The two images really differ (a second image that reused the first latent would not).
    expect(Array.from(images[1].latents)).not.toEqual(Array.from(images[0].latents));
  });

  it("rng 'cuda' draws the latent from the CUDA generator", async () => {
    const { images } = await sd.generate({ ...CAT_FROG, seed: 6141, rng: 'cuda' });
    const given = await sd.generate({ ...CAT_FROG, latents: new TorchCudaGenerator(6141).randn(SHAPE) });
    expect(Array.from(images[0].latents)).toEqual(Array.from(given.images[0].latents));
  });
});
