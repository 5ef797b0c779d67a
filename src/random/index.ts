/**
 * Starting noise identical to PyTorch's for the same seed.
 *
 * - `cpu`: `torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed))`, bit for bit
 *   (mt19937 + PyTorch's AVX2 Box-Muller; checked against PyTorch 1.13 goldens).
 * - `cuda`: `torch.randn(shape, generator=torch.Generator('cuda').manual_seed(seed), device='cuda')`,
 *   the same Philox counters and element order as the GPU, values within ~1e-5 (the GPU's `__sincosf`
 *   is a hardware approximation). Checked against values printed in public PyTorch issues.
 * Use a generator object to draw several tensors in sequence from one seed.
 */

import type { Seed } from './seed.ts';
import { TorchCpuGenerator } from './torchCpuGenerator.ts';
import { TorchCudaGenerator } from './torchCudaGenerator.ts';
import type { CudaDeviceProperties } from './torchCudaNormal.ts';

export type { CudaDeviceName } from './cudaDevices.ts';
export { CUDA_DEVICES } from './cudaDevices.ts';
export { CurandPhiloxState } from './curandPhilox.ts';
export { Mt19937 } from './mt19937.ts';
export { philox4x32_10 } from './philox.ts';
export type { Seed } from './seed.ts';
export { TORCH_DEFAULT_SEED, TorchCpuGenerator } from './torchCpuGenerator.ts';
export { TorchCudaGenerator } from './torchCudaGenerator.ts';
export type { CudaDeviceProperties, CudaNormalLaunch } from './torchCudaNormal.ts';
export { cudaNormalLaunch } from './torchCudaNormal.ts';

export type RandomDevice = 'cpu' | 'cuda';

export interface RandnOptions {
  /** Which PyTorch generator to reproduce; default 'cpu'. */
  device?: RandomDevice;
  /** For 'cuda' tensors larger than one launch wave: the GPU whose element order to reproduce. */
  cudaDevice?: CudaDeviceProperties;
}

/** A fresh generator seeded with `seed`, then one `torch.randn(shape)` in float32 (NCHW order). */
export function randn(shape: readonly number[], seed: Seed, options: RandnOptions = {}): Float32Array {
  const device = options.device ?? 'cpu';
  if (device === 'cpu') return new TorchCpuGenerator(seed).randn(shape);
  if (device === 'cuda') return new TorchCudaGenerator(seed, { device: options.cudaDevice }).randn(shape);
  throw new RangeError(`unknown device ${String(device)}`);
}
