import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TorchCpuGenerator } from '../../src/random/torchCpuGenerator.ts';
import { compareExact, RNG_FIXTURES, readF32Safetensors } from './fixtures.ts';

// Goldens: torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed), dtype=torch.float32)
// from PyTorch 1.13 on x86 (copied from the shared fixtures, rng/).
const manifest = JSON.parse(readFileSync(`${RNG_FIXTURES}torch_cpu_randn.json`, 'utf8')) as {
  cases: { name: string; seed: number; shape: number[] }[];
};
const goldens = readF32Safetensors(`${RNG_FIXTURES}torch_cpu_randn.safetensors`);
const singleDrawCases = manifest.cases.filter((c) => goldens.has(c.name));

describe('TorchCpuGenerator.randn matches torch.randn bit for bit', () => {
  it('covers every single-draw golden case', () => {
    // 11 single draws, including both kernel paths (5 and 15 elements: double Box-Muller with cache;
    // 17 and 21: the 16-block path with its recomputed tail).
    expect(singleDrawCases.length).toBe(11);
  });

  for (const c of singleDrawCases) {
    it(`${c.name}`, () => {
      const golden = goldens.get(c.name)!;
      expect(golden.shape).toEqual(c.shape);
      const actual = new TorchCpuGenerator(c.seed).randn(c.shape);
      expect(compareExact(actual, golden.data)).toEqual({ mismatches: 0, maxAbsDiff: 0 });
    });
  }

  it('continues the stream across calls (seed 5, two 1x4x8x8 draws)', () => {
    const gen = new TorchCpuGenerator(5);
    const first = gen.randn([1, 4, 8, 8]);
    const second = gen.randn([1, 4, 8, 8]);
    expect(compareExact(first, goldens.get('seed5_two_draws_first')!.data).mismatches).toBe(0);
    expect(compareExact(second, goldens.get('seed5_two_draws_second')!.data).mismatches).toBe(0);
  });

  it('keeps the cached double normal across calls below 16 elements', () => {
    // randn(5) leaves the sine half of its third pair cached; a following randn(10) starts with it,
    // so the 15 values equal the single randn(15) golden for the same seed.
    const gen = new TorchCpuGenerator(7);
    const joined = new Float32Array(15);
    joined.set(gen.randn([5]), 0);
    joined.set(gen.randn([10]), 5);
    expect(compareExact(joined, goldens.get('seed7_15')!.data).mismatches).toBe(0);
  });

  it('manualSeed resets both the engine and the cached normal', () => {
    const gen = new TorchCpuGenerator(123);
    gen.randn([5]);
    gen.manualSeed(7);
    expect(compareExact(gen.randn([5]), goldens.get('seed7_5')!.data).mismatches).toBe(0);
  });

  it('uses only the low 32 bits of a 64-bit seed, and wraps negative seeds to uint64', () => {
    // PyTorch's mt19937 keeps `seed & 0xffffffff`; -1 is stored as 2^64 - 1. All of these seeds give
    // the stream of seed 4294967295.
    const golden = goldens.get('seed4294967295_1x4x8x8')!.data;
    for (const seed of [4294967295n, 2n ** 64n - 1n, -1, -1n, 2 ** 33 + 4294967295]) {
      const gen = new TorchCpuGenerator(seed);
      expect(compareExact(gen.randn([1, 4, 8, 8]), golden).mismatches).toBe(0);
    }
    expect(new TorchCpuGenerator(-1).initialSeed()).toBe(2n ** 64n - 1n);
  });

  it('rejects seeds outside [-2^63, 2^64) and unsafe numbers', () => {
    expect(() => new TorchCpuGenerator(2n ** 64n)).toThrow(RangeError);
    expect(() => new TorchCpuGenerator(-(2n ** 63n) - 1n)).toThrow(RangeError);
    expect(() => new TorchCpuGenerator(2 ** 60)).toThrow(RangeError);
    expect(() => new TorchCpuGenerator(0.5)).toThrow(RangeError);
  });
});
