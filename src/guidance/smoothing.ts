import type { Value } from '../graph/index.ts';
import * as G from '../graph/index.ts';

/**
 * The official 3×3 Gaussian kernel with σ = 0.5. Its exponent is −(d/(2σ))², not −d²/(2σ²), so the effective
 * standard deviation is σ√2; reproduced as is (ALGORITHM.md §3.6). Computed in float32 like the original.
 */
export function officialGaussianKernel(sigma = 0.5): Float32Array {
  const f = Math.fround;
  // Like PyTorch: the Python-float constant is rounded once, the rest is float32 tensor arithmetic.
  const scale = f(1 / (sigma * Math.sqrt(2 * Math.PI)));
  const g = [0, 1, 2].map((u) => f(scale * f(Math.exp(-f(f((u - 1) / f(2 * sigma)) ** 2)))));
  const kernel = new Float32Array(9);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) kernel[y * 3 + x] = f(g[y] * g[x]);
  let sum = 0;
  for (const v of kernel) sum = f(sum + v);
  return kernel.map((v) => f(v / sum));
}

/** Reflect padding by one pixel (row −1 := row 1), built from slices so that its gradient is automatic. */
function reflectPad1(x: Value, axis: number): Value {
  const n = x.shape[axis];
  return G.concat([G.slice(x, [1], [2], [axis]), x, G.slice(x, [n - 2], [n - 1], [axis])], axis);
}

/** Smooths each of k maps [k, h, w] with the official kernel after reflect padding, as the official code. */
export function smoothMaps(maps: Value, kernel: Float32Array = officialGaussianKernel()): Value {
  const [k, h, w] = maps.shape;
  const padded = reflectPad1(reflectPad1(G.reshape(maps, [k, 1, h, w]), 2), 3);
  const weights = maps.graph.constant(kernel, [1, 1, 3, 3], maps.dtype);
  return G.reshape(G.conv2d(padded, weights), [k, h, w]);
}
