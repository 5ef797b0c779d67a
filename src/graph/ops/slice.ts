import { GraphError } from '../errors.ts';
import { apply, checked, type OpDef, type Value } from '../graph.ts';
import { normalizeAxis } from '../shape.ts';
import { pad } from './pad.ts';
import { reshape } from './reshape.ts';

/** One sliced axis with resolved, in-range bounds and a positive step. */
interface SliceAxis {
  readonly axis: number;
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

interface SliceAttrs {
  readonly axes: readonly SliceAxis[];
}

const countOf = ({ start, end, step }: SliceAxis): number => Math.max(0, Math.ceil((end - start) / step));

const Slice: OpDef<SliceAttrs> = {
  name: 'Slice',
  infer([x], { axes }) {
    const shape = [...x.shape];
    for (const a of axes) shape[a.axis] = countOf(a);
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, [x], outputs, { axes }) {
    e.node(
      'Slice',
      [
        x,
        e.int64s(axes.map((a) => a.start)),
        e.int64s(axes.map((a) => a.end)),
        e.int64s(axes.map((a) => a.axis)),
        e.int64s(axes.map((a) => a.step)),
      ],
      outputs,
    );
  },
  // The gradient puts g back where the slice came from, zeros elsewhere: a step k is undone by interleaving
  // k−1 zero slots (pad a new axis, then merge it), the bounds by zero padding.
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    let out = g;
    for (const a of node.attrs.axes) {
      const count = countOf(a);
      if (a.step > 1) {
        const split = [...out.shape.slice(0, a.axis), count, 1, ...out.shape.slice(a.axis + 1)];
        const pads = split.map(() => [0, 0] as [number, number]);
        pads[a.axis + 1] = [0, a.step - 1];
        const spread = pad(reshape(out, split), pads);
        const merged = [...out.shape];
        merged[a.axis] = count * a.step;
        out = reshape(spread, merged);
      }
      const pads = out.shape.map(() => [0, 0] as [number, number]);
      pads[a.axis] = [a.start, x.shape[a.axis] - a.start - out.shape[a.axis]];
      out = pad(out, pads);
    }
    return [out];
  },
};

/**
 * Python-style slicing x[start:end:step] on the given axes (negative indices count from the end, bounds are
 * clamped). Only positive steps are supported.
 */
export function slice(
  x: Value,
  starts: readonly number[],
  ends: readonly number[],
  axes?: readonly number[],
  steps?: readonly number[],
): Value {
  const resolved = checked('Slice', [x], () => {
    if (ends.length !== starts.length || (axes && axes.length !== starts.length)) {
      throw new GraphError(`starts, ends and axes differ in length: [${starts}], [${ends}], [${axes ?? ''}]`);
    }
    return starts.map((s, i) => {
      const axis = normalizeAxis(axes ? axes[i] : i, x.rank);
      const step = steps?.[i] ?? 1;
      if (!(Number.isInteger(step) && step > 0))
        throw new GraphError(`step ${step} must be a positive integer`);
      const dim = x.shape[axis];
      const clamp = (v: number) => Math.min(dim, Math.max(0, v < 0 ? v + dim : v));
      return { axis, start: clamp(s), end: clamp(ends[i]), step };
    });
  });
  if (new Set(resolved.map((a) => a.axis)).size !== resolved.length) {
    checked('Slice', [x], () => {
      throw new GraphError(`axes [${axes}] name an axis twice`);
    });
  }
  const trivial = resolved.every((a) => a.start === 0 && a.end === x.shape[a.axis] && a.step === 1);
  if (trivial) return x;
  return apply(Slice, [x], { axes: resolved })[0];
}
