/**
 * Float32 arithmetic as PyTorch's CPU kernels do it, for the scheduler tables and steps.
 *
 * JavaScript computes in float64; one `Math.fround` after each +, -, *, / or sqrt of float32 inputs
 * gives the correctly rounded float32 result (float64 has more than 2·24 + 2 bits, so the double
 * rounding is harmless). Fused multiply-adds use `fma32` from src/random/float32Fma.ts.
 */

const f32 = Math.fround;

/** `torch.sqrt` / `x ** 0.5` on a float32 value. */
export function sqrt32(x: number): number {
  return f32(Math.sqrt(x));
}

/**
 * `torch.log` / `torch.exp` on a float32 value. PyTorch's scalar path calls glibc's logf/expf and its
 * vectorised path SLEEF (≤ 1 ulp); correctly rounded float64 results rounded to float32 agree with
 * them except, rarely, in the last bit.
 */
export function log32(x: number): number {
  return f32(Math.log(x));
}

export function exp32(x: number): number {
  return f32(Math.exp(x));
}
