/**
 * PyTorch's CUDA generator, `torch.Generator('cuda')`, reproduced on the CPU: a 64-bit seed and a
 * philox offset that each sampling call advances. See torchCudaNormal.ts for the element order and
 * curandPhilox.ts for the accuracy (float32 values within ~1e-5 of the GPU's, not bit-exact).
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
