/**
 * `torch.randn` for float32 on PyTorch's CPU generator (the `normal_kernel` of
 * aten/src/ATen/native/cpu/DistributionTemplates.h), with mean 0 and std 1.
 *
 * Two paths, chosen by element count, as PyTorch does for a contiguous float32 tensor:
 *  - numel >= 16 (`normal_fill_AVX2`): first draw one 24-bit uniform per element, then turn each block of
 *    16 into normals with Box-Muller in float32 (u1 = 1 - data[j], u2 = data[j + 8] for j < 8; cos goes
 *    to slot j, sin to slot j + 8). If numel is not a multiple of 16, 16 *fresh* uniforms are drawn for
 *    the last 16 slots and that block is recomputed, overwriting values already produced.
 *  - numel < 16: each element is `at::normal_distribution<double>` cast to float, i.e. Box-Muller in
 *    double on 53-bit uniforms, with the sine half of each pair cached in the generator for the next
 *    element (and the next call).
 * The transcendental functions of the first path are the AVX2 Cephes ones (see avx2MathFun.ts), which
 * is what an x86 PyTorch build with AVX2 uses; builds without AVX2 (e.g. ARM) use libm instead and can
 * differ by an ulp.
 */

import { logAvx2, sincosAvx2 } from './avx2MathFun.ts';

/** What the kernels need from a generator; the state lives in TorchCpuGenerator. */
export interface TorchCpuRandomSource {
  /** `at::uniform_real_distribution<float>(0, 1)`: 24 random bits / 2^24. */
  uniformFloat(): number;
  /** `at::normal_distribution<double>(0, 1)`, including the generator's cached second value. */
  normalDouble(): number;
}

/** Float32 nearest to 2*pi, as `_mm256_set1_ps(2.0f * c10::pi<double>)`. */
const TWO_PI_F32 = Math.fround(2 * Math.PI);

/** Box-Muller on 16 uniforms at data[offset..offset+16), in place. */
function normalFill16(data: Float32Array, offset: number, sincos: Float64Array): void {
  const f = Math.fround;
  for (let j = offset; j < offset + 8; j++) {
    const u1 = f(1 - data[j]); // [0, 1) -> (0, 1] so the log is finite
    const u2 = data[j + 8];
    const radius = f(Math.sqrt(f(-2 * logAvx2(u1))));
    sincosAvx2(f(TWO_PI_F32 * u2), sincos);
    // fmadd(n, std = 1, mean = 0) is n itself.
    data[j] = radius * sincos[1];
    data[j + 8] = radius * sincos[0];
  }
}

/** Fills `out` with standard normals, consuming the generator exactly as `torch.randn` does. */
export function fillRandnTorchCpu(source: TorchCpuRandomSource, out: Float32Array): void {
  const size = out.length;
  if (size < 16) {
    for (let i = 0; i < size; i++) out[i] = source.normalDouble();
    return;
  }
  for (let i = 0; i < size; i++) out[i] = source.uniformFloat();
  const sincos = new Float64Array(2);
  for (let i = 0; i + 16 <= size; i += 16) normalFill16(out, i, sincos);
  if (size % 16 !== 0) {
    const tail = size - 16;
    for (let i = 0; i < 16; i++) out[tail + i] = source.uniformFloat();
    normalFill16(out, tail, sincos);
  }
}
