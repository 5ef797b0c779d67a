import { describe, expect, it } from 'vitest';
import { batchedNoise } from '../../src/pipeline/batchedNoise.ts';
import { TorchCpuGenerator } from '../../src/random/index.ts';

describe('per-image noise for images denoised one after another', () => {
  it("gives image k the k-th slice of each step's batched draw, as diffusers' batch of images gets it", () => {
    const shape = [1, 4, 2, 2];
    const noise = batchedNoise(new TorchCpuGenerator(7), 3);
    // Image 0 runs all its steps before image 1 starts, as the pipeline does.
    const perImage = [0, 1, 2].map((k) => {
      const source = noise(k);
      return [source(shape), source(shape)];
    });
    const reference = new TorchCpuGenerator(7);
    const steps = [reference.randn([3, 4, 2, 2]), reference.randn([3, 4, 2, 2])];
    for (const k of [0, 1, 2]) {
      for (const step of [0, 1]) {
        expect(perImage[k][step]).toEqual(steps[step].slice(k * 16, (k + 1) * 16));
      }
    }
  });
});
