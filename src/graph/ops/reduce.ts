import { GraphError } from '../errors.ts';
import { apply, checked, type OpDef, type Value } from '../graph.ts';
import { normalizeAxis, type Shape, sameShape, sizeOf } from '../shape.ts';
import { div, equal, mul } from './elementwise.ts';
import { expand } from './expand.ts';
import { reshape } from './reshape.ts';
import { where } from './select.ts';

export interface ReduceAttrs {
  /** Sorted, non-negative axes. */
  readonly axes: readonly number[];
  readonly keepdims: boolean;
}

type ReduceKind = 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceMin';

function reduceOp(name: ReduceKind): OpDef<ReduceAttrs> {
  return {
    name,
    infer([x], { axes, keepdims }) {
      const shape = keepdims
        ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : x.shape.filter((_d, i) => !axes.includes(i));
      return [{ shape, dtype: x.dtype }];
    },
    emit(e, [x], outputs, { axes, keepdims }) {
      e.node(name, [x, e.int64s(axes)], outputs, { keepdims: keepdims ? 1 : 0 });
    },
    vjp(node, [g]) {
      if (!g) return [null];
      const x = node.inputs[0];
      const { axes } = node.attrs;
      const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const gk = reshape(g, kept);
      if (name === 'ReduceSum') return [expand(gk, x.shape)];
      if (name === 'ReduceMean') {
        const count = axes.reduce((n, a) => n * x.shape[a], 1);
        return [expand(div(gk, count), x.shape)];
      }
      // Max/Min: PyTorch (amax, amin, max()) splits the gradient evenly among tied extrema.
      const hit = where(equal(x, reshape(node.outputs[0], kept)), 1, 0, x.dtype);
      const ties = reduceSum(hit, axes, true);
      return [mul(hit, div(gk, ties))];
    },
  };
}

const ops = {
  ReduceSum: reduceOp('ReduceSum'),
  ReduceMean: reduceOp('ReduceMean'),
  ReduceMax: reduceOp('ReduceMax'),
  ReduceMin: reduceOp('ReduceMin'),
};

function reduce(kind: ReduceKind, x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
  const all = axes ?? x.shape.map((_d, i) => i);
  const normalized = checked(kind, [x], () => [...new Set(all.map((a) => normalizeAxis(a, x.rank)))]).sort(
    (a, b) => a - b,
  );
  if (normalized.length === 0) return x;
  return apply(ops[kind], [x], { axes: normalized, keepdims })[0];
}

/** Sum over `axes` (all axes when omitted). */
export const reduceSum = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  reduce('ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  reduce('ReduceMean', x, axes, keepdims);
export const reduceMax = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  reduce('ReduceMax', x, axes, keepdims);
export const reduceMin = (x: Value, axes?: readonly number[], keepdims = false): Value =>
  reduce('ReduceMin', x, axes, keepdims);

/** Sums a broadcast gradient back to the shape of the operand it was broadcast from. */
export function sumToShape(g: Value, shape: Shape): Value {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  if (lead < 0) throw new GraphError(`cannot sum ${g} down to a larger rank ${shape.length}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = reduceSum(g, axes, true);
  return sizeOf(summed.shape) === sizeOf(shape) ? reshape(summed, shape) : summed;
}
