import { at, generate, sizeOf, type Tensor, unravel } from './tensor.ts';

/**
 * Reduces `axes` (negative allowed; all when undefined) with `combine` starting from `initial`, then applies
 * `finish(accumulated, count)`.
 */
export function reduce(
  x: Tensor,
  axes: readonly number[] | undefined,
  keepdims: boolean,
  combine: (acc: number, v: number) => number,
  initial: number,
  finish: (acc: number, count: number) => number = (acc) => acc,
): Tensor {
  const rank = x.shape.length;
  const reduced = new Set((axes ?? x.shape.map((_d, i) => i)).map((a) => (a < 0 ? a + rank : a)));
  const kept = x.shape.map((d, i) => (reduced.has(i) ? 1 : d));
  const acc = new Float64Array(sizeOf(kept)).fill(initial);
  const count = sizeOf(x.shape) / sizeOf(kept);
  for (let flat = 0; flat < x.data.length; flat++) {
    const index = unravel(flat, x.shape).map((v, i) => (reduced.has(i) ? 0 : v));
    let target = 0;
    for (let i = 0; i < rank; i++) target = target * kept[i] + index[i];
    acc[target] = combine(acc[target], x.data[flat]);
  }
  const shape = keepdims ? kept : x.shape.filter((_d, i) => !reduced.has(i));
  return { shape, data: acc.map((v) => finish(v, count)) };
}

export const sum = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduce(x, axes, keepdims, (a, v) => a + v, 0);
export const mean = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduce(
    x,
    axes,
    keepdims,
    (a, v) => a + v,
    0,
    (a, n) => a / n,
  );
export const max = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduce(x, axes, keepdims, Math.max, -Infinity);
export const min = (x: Tensor, axes?: readonly number[], keepdims = false): Tensor =>
  reduce(x, axes, keepdims, Math.min, Infinity);

/** Softmax along `axis`: exp(x − max) / Σ exp(x − max). */
export function softmax(x: Tensor, axis: number): Tensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const m = max(x, [a], true);
  const keep = (index: number[]) => index.map((v, i) => (i === a ? 0 : v));
  const e = generate(x.shape, (i) => Math.exp(at(x, i) - at(m, keep(i))));
  const s = sum(e, [a], true);
  return generate(x.shape, (i) => at(e, i) / at(s, keep(i)));
}
