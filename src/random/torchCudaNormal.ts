/**
 * `torch.randn` for float32 on a CUDA generator: which Philox counter and which Box-Muller output each
 * element gets (aten/src/ATen/native/cuda/DistributionTemplates.h: `calc_execution_policy`,
 * `distribution_elementwise_grid_stride_kernel`, `normal_and_transform`).
 *
 * Launch: blocks of 256 threads, grid = min(ceil(numel / 256), SMs * floor(maxThreadsPerSM / 256)).
 * With T = 256 * grid threads, thread t runs `curand_init(seed, subsequence = t, offset)` and loops over
 * k = 0, 1, ... while t + 4kT < roundUp(numel, 4T): each pass draws one `curand_normal4` and writes its
 * component ii (0..3) to element t + 4kT + iiT when that is < numel.
 *
 * Consequences:
 *  - If ceil(numel / 256) <= the grid cap ("one wave"), T >= numel, so element e is component 0 (the sine
 *    half of the first Box-Muller pair) of the first normal4 of thread e, and the result is the same on
 *    every GPU: counter = (offset / 4, 0, e, 0). The other three normals are thrown away.
 *  - Otherwise the element order depends on the GPU's SM count and threads per SM.
 * For SD latents: 1x4x32x32 needs 16 blocks, 1x4x64x64 64, 1x4x96x96 144, 1x4x128x128 256. A GPU with
 * 2048 threads/SM (V100, A100, H100) caps at 8 blocks per SM and one with 1536 (RTX 30xx/40xx, A10G,
 * L40) at 6, so 64x64 is GPU-independent from 8 SMs on, 96x96 from 18 (8/SM) or 24 (6/SM), and 128x128
 * from 32 (8/SM) or 43 (6/SM) SMs. A T4 (40 SMs x 4 = 160 blocks) therefore gives a different 128x128
 * latent than an A100 or an RTX 3090.
 * The philox offset advances by 4 * (number of passes) per call, i.e. by 4 for a one-wave tensor.
 */

import { curandBoxMuller } from './curandPhilox.ts';
import { philox4x32_10 } from './philox.ts';

const BLOCK_SIZE = 256;
/** Four normals per `curand_normal4`, hence the unroll of 4 and the counter step of 4 per pass. */
const UNROLL = 4;

/** The two device properties that shape PyTorch's launch (`cudaDeviceProp`). */
export interface CudaDeviceProperties {
  multiProcessorCount: number;
  maxThreadsPerMultiProcessor: number;
}

export interface CudaNormalLaunch {
  blockSize: number;
  gridSize: number;
  /** Total threads, T = blockSize * gridSize. */
  threads: number;
  /** Grid-stride passes per thread. */
  passes: number;
  /** How far the generator's philox offset moves for this call. */
  offsetIncrement: number;
}

/**
 * The launch PyTorch uses for `numel` elements. Without `device` the grid is never capped, which is
 * what every GPU does for one-wave tensors (see the header).
 */
export function cudaNormalLaunch(numel: number, device?: CudaDeviceProperties): CudaNormalLaunch {
  if (!Number.isSafeInteger(numel) || numel < 1 || numel > 0x7fffffff) {
    throw new RangeError(`numel must be in [1, 2^31), got ${numel}`);
  }
  let gridSize = Math.ceil(numel / BLOCK_SIZE);
  if (device) {
    const blocksPerSm = Math.floor(device.maxThreadsPerMultiProcessor / BLOCK_SIZE);
    gridSize = Math.min(gridSize, device.multiProcessorCount * blocksPerSm);
  }
  const threads = BLOCK_SIZE * gridSize;
  const passes = Math.floor((numel - 1) / (threads * UNROLL)) + 1;
  return { blockSize: BLOCK_SIZE, gridSize, threads, passes, offsetIncrement: passes * UNROLL };
}

/**
 * Fills `out` (length numel) like `torch.randn` on a CUDA generator with this seed and philox offset.
 * `offset` is the generator's offset before the call (a multiple of 4, as PyTorch keeps it).
 */
export function fillRandnTorchCuda(
  seedLo: number,
  seedHi: number,
  offset: number,
  out: Float32Array,
  device?: CudaDeviceProperties,
): CudaNormalLaunch {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % 4 !== 0) {
    throw new RangeError(`philox offset must be a non-negative multiple of 4, got ${offset}`);
  }
  const launch = cudaNormalLaunch(out.length, device);
  const { threads, passes } = launch;
  const numel = out.length;
  const words = new Uint32Array(4);
  const normals = new Float32Array(4);
  for (let k = 0; k < passes; k++) {
    // Block index within the thread's subsequence: offset / 4 blocks skipped, then one per pass.
    const block = offset / 4 + k;
    const ctr0 = block >>> 0;
    const ctr1 = Math.floor(block / 4294967296) >>> 0;
    const base = k * UNROLL * threads;
    for (let t = 0; t < threads && base + t < numel; t++) {
      philox4x32_10(ctr0, ctr1, t, 0, seedLo, seedHi, words);
      const lanes = Math.min(UNROLL, Math.ceil((numel - base - t) / threads));
      curandBoxMuller(words[0], words[1], normals, 0);
      if (lanes > 2) curandBoxMuller(words[2], words[3], normals, 2);
      for (let ii = 0; ii < lanes; ii++) out[base + ii * threads + t] = normals[ii];
    }
  }
  return launch;
}
