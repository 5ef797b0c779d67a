import {
  add,
  cast,
  conv2d,
  erf,
  groupNorm,
  layerNorm,
  linear as linearOp,
  mul,
  sigmoid,
  type Value,
} from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';

// The UNet's leaf modules, each reading its weights under diffusers' names (`weight`, `bias`).

/** nn.SiLU as x·sigmoid(x) (its gradient stays finite where exp(−x) would overflow). */
export function silu(x: Value): Value {
  return mul(x, sigmoid(x));
}

/** Exact (erf) GELU in PyTorch's CPU op order: x·0.5·(1 + erf(x·√½)). */
export function gelu(x: Value): Value {
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/** nn.Linear(in, out, bias) applied to the last axis. */
export function linear(p: ParameterSource, x: Value, out: number, bias = true): Value {
  const inFeatures = x.shape[x.rank - 1];
  return linearOp(x, p.get('weight', [out, inFeatures]), bias ? p.get('bias', [out]) : undefined);
}

/** nn.Conv2d(in, out, kernel, stride, padding) with bias. */
export function conv(
  p: ParameterSource,
  x: Value,
  out: number,
  kernel: number,
  { stride = 1, padding = (kernel - 1) / 2 }: { stride?: number; padding?: number } = {},
): Value {
  const weight = p.get('weight', [out, x.shape[1], kernel, kernel]);
  return conv2d(x, weight, p.get('bias', [out]), { stride, padding });
}

// Norms compute in float32 whatever the compute dtype: their mean and variance over thousands of values lose
// precision or overflow in half precision. (No-op casts vanish for float32 graphs.)
const f32 = (v: Value) => cast(v, 'float32');

/** nn.GroupNorm(groups, C, eps) with affine weights, over NC… input. */
export function groupNormLayer(p: ParameterSource, x: Value, groups: number, eps: number): Value {
  const c = x.shape[1];
  const y = groupNorm(f32(x), f32(p.get('weight', [c])), f32(p.get('bias', [c])), groups, eps);
  return cast(y, x.dtype);
}

/** nn.LayerNorm(C) over the last axis, PyTorch's default eps 1e-5. */
export function layerNormLayer(p: ParameterSource, x: Value, eps = 1e-5): Value {
  const c = x.shape[x.rank - 1];
  const y = layerNorm(f32(x), f32(p.get('weight', [c])), f32(p.get('bias', [c])), eps);
  return cast(y, x.dtype);
}
