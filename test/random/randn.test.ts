import { describe, expect, it } from 'vitest';
import { type RandomDevice, randn, TorchCpuGenerator, TorchCudaGenerator } from '../../src/random/index.ts';
import { compareExact, RNG_FIXTURES, readF32Safetensors } from './fixtures.ts';

const goldens = readF32Safetensors(`${RNG_FIXTURES}torch_cpu_randn.safetensors`);

describe('randn(shape, seed, options)', () => {
  it('defaults to the CPU generator and matches the PyTorch golden bit for bit', () => {
    const golden = goldens.get('seed2702_1x4x64x64')!.data;
    expect(compareExact(randn([1, 4, 64, 64], 2702), golden).mismatches).toBe(0);
    expect(compareExact(randn([1, 4, 64, 64], 2702n, { device: 'cpu' }), golden).mismatches).toBe(0);
  });

  it('with device cuda equals a fresh TorchCudaGenerator, and differs from the CPU stream', () => {
    const cuda = randn([1, 4, 32, 32], 42, { device: 'cuda' });
    expect([...cuda]).toEqual([...new TorchCudaGenerator(42).randn([1, 4, 32, 32])]);
    expect(compareExact(cuda, new TorchCpuGenerator(42).randn([1, 4, 32, 32])).mismatches).toBeGreaterThan(
      4000,
    );
    // torch.randn(8, 8) with a CUDA generator seeded 0 starts -0.9247, -0.4253, -2.6438 (see the published fixture).
    expect([...randn([3], 0, { device: 'cuda' })].map((v) => v.toFixed(4))).toEqual([
      '-0.9247',
      '-0.4253',
      '-2.6438',
    ]);
  });

  it('returns an empty array for an empty shape and rejects bad input', () => {
    expect(randn([0, 4], 1).length).toBe(0);
    expect(randn([0], 1, { device: 'cuda' }).length).toBe(0);
    expect(() => randn([-1], 1)).toThrow(RangeError);
    expect(() => randn([2], 1, { device: 'tpu' as RandomDevice })).toThrow(RangeError);
  });
});
