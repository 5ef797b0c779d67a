/**
 * PyTorch's CUDA generator, `torch.Generator('cuda')`, reproduced on the CPU: a 64-bit seed and a
 * philox offset that each sampling call advances. See torchCudaNormal.ts for the element order and
 * curandPhilox.ts for the accuracy (float32 values within ~1e-5 of the GPU's, not bit-exact).
 *
 * Verified: Philox4x32-10 against the Random123 known-answer vectors; the element order and the
 * Box-Muller against CUDA `torch.randn` values printed (4 decimals) in PyTorch issues #143086 (A100 and
 * H100, a 9.5M-element tensor, so the SM-dependent order too), #158398 (RTX 3060) and #62467 (RTX A6000),
 * and an 8x8 seed-0 print from a public write-up (test/fixtures/rng/torch_cuda_randn_published.json).
 * Not verified (no GPU was available): bit-level agreement, the ~1e-5 bound itself (it comes from
 * CUDA's documented __sinf/__cosf error), the offset after several draws on a real GPU, and dtypes other
 * than float32 (float64 uses curand_normal2_double and is not implemented).
 */

import { type Seed, seedToUint64 } from './seed.ts';
import { shapeNumel } from './shape.ts';
import type { CudaDeviceProperties } from './torchCudaNormal.ts';
import { fillRandnTorchCuda } from './torchCudaNormal.ts';

export class TorchCudaGenerator {
  private seedValue: bigint;
  private offset = 0;
  private readonly device: CudaDeviceProperties | undefined;

  /**
   * `device` is needed only for tensors larger than one wave of the GPU's launch grid; without it the
   * result is the one every GPU gives for one-wave tensors.
   */
  constructor(seed: Seed, options: { device?: CudaDeviceProperties } = {}) {
    this.seedValue = seedToUint64(seed);
    this.device = options.device;
  }

  /** `generator.manual_seed(seed)`: new seed, offset back to 0. */
  manualSeed(seed: Seed): this {
    this.seedValue = seedToUint64(seed);
    this.offset = 0;
    return this;
  }

  initialSeed(): bigint {
    return this.seedValue;
  }

  /** `generator.get_offset()`: the philox offset the next call starts from. */
  philoxOffset(): number {
    return this.offset;
  }

  /** `torch.randn(shape, generator=this, device='cuda', dtype=torch.float32)`. */
  randn(shape: readonly number[]): Float32Array {
    const out = new Float32Array(shapeNumel(shape));
    if (out.length === 0) return out;
    const lo = Number(this.seedValue & 0xffffffffn);
    const hi = Number(this.seedValue >> 32n);
    const launch = fillRandnTorchCuda(lo, hi, this.offset, out, this.device);
    this.offset += launch.offsetIncrement;
    return out;
  }
}
