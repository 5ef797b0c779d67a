/**
 * SM counts and threads per SM of common GPUs (NVIDIA specifications / `cudaDeviceProp`), for
 * reproducing CUDA `torch.randn` of tensors larger than one wave (see torchCudaNormal.ts). Ask
 * `torch.cuda.get_device_properties(0)` for `multi_processor_count` and
 * `max_threads_per_multi_processor` when a card is not listed; MIG slices have fewer SMs.
 */

import type { CudaDeviceProperties } from './torchCudaNormal.ts';

export const CUDA_DEVICES = {
  'Tesla V100': { multiProcessorCount: 80, maxThreadsPerMultiProcessor: 2048 },
  'Tesla T4': { multiProcessorCount: 40, maxThreadsPerMultiProcessor: 1024 },
  A100: { multiProcessorCount: 108, maxThreadsPerMultiProcessor: 2048 },
  A10G: { multiProcessorCount: 80, maxThreadsPerMultiProcessor: 1536 },
  'H100 SXM': { multiProcessorCount: 132, maxThreadsPerMultiProcessor: 2048 },
  'H100 PCIe': { multiProcessorCount: 114, maxThreadsPerMultiProcessor: 2048 },
  L40: { multiProcessorCount: 142, maxThreadsPerMultiProcessor: 1536 },
  'RTX 2070 Super': { multiProcessorCount: 40, maxThreadsPerMultiProcessor: 1024 },
  'RTX 3060': { multiProcessorCount: 28, maxThreadsPerMultiProcessor: 1536 },
  'RTX 3090': { multiProcessorCount: 82, maxThreadsPerMultiProcessor: 1536 },
  'RTX 4090': { multiProcessorCount: 128, maxThreadsPerMultiProcessor: 1536 },
  'RTX A4000': { multiProcessorCount: 48, maxThreadsPerMultiProcessor: 1536 },
  'RTX A6000': { multiProcessorCount: 84, maxThreadsPerMultiProcessor: 1536 },
  'Quadro M4000': { multiProcessorCount: 13, maxThreadsPerMultiProcessor: 2048 },
} as const satisfies Record<string, CudaDeviceProperties>;

export type CudaDeviceName = keyof typeof CUDA_DEVICES;
