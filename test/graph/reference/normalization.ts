import { at, generate, ravel, type Tensor } from './tensor.ts';

/** Normalises each group of entries that share `key(index)`, with the biased variance, then scales. */
function normalize(
  x: Tensor,
  key: (index: number[]) => number,
  affine: (index: number[], xhat: number) => number,
  epsilon: number,
): Tensor {
  const groups = new Map<number, number[]>();
  const all = generate(x.shape, (i) => {
    const k = key(i);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(at(x, i));
    return 0;
  });
  const stats = new Map<number, { mean: number; std: number }>();
  for (const [k, values] of groups) {
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
    stats.set(k, { mean, std: Math.sqrt(variance + epsilon) });
  }
  return generate(all.shape, (i) => {
    const { mean, std } = stats.get(key(i))!;
    return affine(i, (at(x, i) - mean) / std);
  });
}

/** LayerNorm over the last axis with per-feature scale and bias. */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor, epsilon = 1e-5): Tensor {
  const last = x.shape.length - 1;
  const features = x.shape[last];
  return normalize(
    x,
    (i) => Math.floor(ravel(i, x.shape) / features),
    (i, v) => v * scale.data[i[last]] + bias.data[i[last]],
    epsilon,
  );
}

/** GroupNorm of N C … input: statistics per (sample, group of channels), per-channel scale and bias. */
export function groupNorm(x: Tensor, scale: Tensor, bias: Tensor, groups: number, epsilon = 1e-5): Tensor {
  const perGroup = x.shape[1] / groups;
  return normalize(
    x,
    (i) => i[0] * groups + Math.floor(i[1] / perGroup),
    (i, v) => v * scale.data[i[1]] + bias.data[i[1]],
    epsilon,
  );
}
