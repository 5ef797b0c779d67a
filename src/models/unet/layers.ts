import {
  add,
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

/** nn.GroupNorm(groups, C, eps) with affine weights, over NC… input. */
export function groupNormLayer(p: ParameterSource, x: Value, groups: number, eps: number): Value {
  const c = x.shape[1];
  return groupNorm(x, p.get('weight', [c]), p.get('bias', [c]), groups, eps);
}

/** nn.LayerNorm(C) over the last axis, PyTorch's default eps 1e-5. */
export function layerNormLayer(p: ParameterSource, x: Value, eps = 1e-5): Value {
  const c = x.shape[x.rank - 1];
  return layerNorm(x, p.get('weight', [c]), p.get('bias', [c]), eps);
}
