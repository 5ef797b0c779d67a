/**
 * log_softmax of one row of float32 logits as PyTorch's CPU kernel orders it (`_vec_log_softmax_lastdim`):
 *
 *   m = max_j x_j,   s = Σ_j exp(x_j − m),   out_i = (x_i − m) − log(s)
 *
 * with x_i − m and the final difference each rounded to float32, in that order. PyTorch sums float32 exps in
 * SIMD lanes with SLEEF's exp; here the exps are summed in float64, closer to the exact sum, so log(s) may
 * differ from PyTorch's in its last float32 bit (a few 1e-8 for the sums of a 30k vocabulary). A NaN anywhere
 * makes the whole row NaN, as in PyTorch.
 */
export function logSoftmax(logits: Float32Array): Float32Array {
  const f = Math.fround;
  let max = Number.NEGATIVE_INFINITY;
  for (const x of logits) {
    if (Number.isNaN(x)) return new Float32Array(logits.length).fill(Number.NaN);
    if (x > max) max = x;
  }
  const shifted = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    shifted[i] = f(logits[i] - max);
    sum += Math.exp(shifted[i]);
  }
  const logSum = f(Math.log(sum));
  for (let i = 0; i < shifted.length; i++) shifted[i] = f(shifted[i] - logSum);
  return shifted;
}
