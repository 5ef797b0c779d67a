import type { NoiseSource } from '../schedulers/scheduler.ts';

/** What draws normal noise: the PyTorch-compatible generators. */
interface NormalGenerator {
  randn(shape: readonly number[]): Float32Array;
}

/**
 * Per-image noise sources for `count` images denoised one after another that reproduce diffusers' batched
 * draws: diffusers steps all images together, so an ancestral step draws one [count, …] tensor and image k
 * gets its k-th slice. Image k's i-th request returns slice k of the i-th batched draw, drawn once, in order.
 */
export function batchedNoise(generator: NormalGenerator, count: number): (image: number) => NoiseSource {
  const draws: Float32Array[] = [];
  return (image) => {
    let calls = 0;
    return (shape) => {
      const step = calls++;
      while (draws.length <= step) draws.push(generator.randn([count, ...shape.slice(1)]));
      const size = shape.reduce((a, b) => a * b, 1);
      return draws[step].slice(image * size, (image + 1) * size);
    };
  };
}
