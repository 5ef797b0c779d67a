/**
 * Float32 `log` and `sincos` exactly as PyTorch's AVX2 CPU normal kernel computes them, one lane at a time.
 *
 * `torch.randn` on an x86 build dispatches float32 tensors of >= 16 elements to `normal_fill_AVX2`,
 * which uses `log256_ps` / `sincos256_ps` from `aten/src/ATen/native/cpu/avx_mathfun.h` (Cephes
 * polynomials by way of Pommier's sse_mathfun), not libm. Reproducing them bit for bit needs:
 *  - every operation rounded to float32 (Math.fround);
 *  - GCC's FMA contraction of the intrinsics (the AVX2 kernels are built with -mfma and GCC's default
 *    -ffp-contract=fast): each multiply whose only use is an add becomes an FMA, and where two
 *    multiplies feed one add, the one written first is fused. This was confirmed against the PyTorch
 *    1.13 goldens: without FMA ~1% of values differ by 1 ulp, fusing the other operand leaves ~0.1%.
 * The coefficients are Cephes' published single-precision constants.
 */

import { fma32 } from './float32Fma.ts';

const f = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

// Cephes logf: log(1 + x) ~ x - x^2/2 + x^3 * P(x) on [sqrt(1/2) - 1, sqrt(2) - 1].
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f);
// ln 2 split in a short high part (exact products with small integers) and a correction.
const LN2_LO = f(-2.1219444e-4);
const LN2_HI = f(0.693359375);
const SQRT_HALF = f(Math.SQRT1_2);

/** Natural log of a positive normal float32, as `log256_ps` (accurate to about 1 ulp). */
export function logAvx2(value: number): number {
  f32[0] = value;
  const word = u32[0];
  // Split value = m * 2^e with m in [0.5, 1).
  let e = f(((word >>> 23) & 0xff) - 127 + 1);
  u32[0] = (word & ~0x7f800000) | 0x3f000000;
  let x = f32[0];
  if (x < SQRT_HALF) {
    e = e - 1;
    x = f(f(x - 1) + x); // 2m - 1, exact
  } else {
    x = f(x - 1);
  }
  const z = f(x * x);
  let y = LOG_P[0];
  for (let k = 1; k < LOG_P.length; k++) y = fma32(y, x, LOG_P[k]);
  y = f(y * x);
  y = fma32(y, z, f(e * LN2_LO));
  y = f(y - f(z * 0.5));
  x = f(x + y);
  return f(x + f(e * LN2_HI)); // e * LN2_HI is exact, so fusing it changes nothing
}

// Pi/4 split in three parts (Cephes DP1..DP3) for the "extended precision" range reduction.
const DP1 = f(-0.78515625);
const DP2 = f(-2.4187564849853516e-4);
const DP3 = f(-3.774894977445941e-8);
const SIN_P = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1].map(f);
const COS_P = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2].map(f);
const FOUR_OVER_PI = f(1.27323954473516);

/**
 * sin and cos of a float32, as `sincos256_ps`; writes [sin, cos] into `out`. Accurate for |x| < 8192,
 * which covers the [0, 2*pi) angles of Box-Muller.
 */
export function sincosAvx2(value: number, out: Float64Array | number[]): void {
  let x = Math.abs(value);
  // Octant j, rounded up to even, and the reduced argument x - j*pi/4 in [-pi/4, pi/4].
  const j = ((Math.trunc(f(x * FOUR_OVER_PI)) | 0) + 1) & ~1;
  const flipSin = (j & 4) !== 0;
  const useSinPolyForSin = (j & 2) === 0;
  const flipCos = (~(j - 2) & 4) !== 0;
  x = fma32(j, DP1, x);
  x = fma32(j, DP2, x);
  x = fma32(j, DP3, x);
  const z = f(x * x);

  let c = COS_P[0];
  c = fma32(c, z, COS_P[1]);
  c = fma32(c, z, COS_P[2]);
  c = f(c * z);
  c = fma32(c, z, -f(z * 0.5));
  c = f(c + 1);

  let s = SIN_P[0];
  s = fma32(s, z, SIN_P[1]);
  s = fma32(s, z, SIN_P[2]);
  s = f(s * z);
  s = fma32(s, x, x);

  const sin = useSinPolyForSin ? s : c;
  const cos = useSinPolyForSin ? c : s;
  out[0] = flipSin !== value < 0 ? -sin : sin;
  out[1] = flipCos ? -cos : cos;
}
