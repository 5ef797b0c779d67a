import { GraphError } from '../errors.ts';
import { apply, checked, type OpDef, type Value } from '../graph.ts';
import { normalizeAxis } from '../shape.ts';
import { slice } from './slice.ts';

interface ConcatAttrs {
  readonly axis: number;
}

const Concat: OpDef<ConcatAttrs> = {
  name: 'Concat',
  infer(inputs, { axis }) {
    const first = inputs[0];
    let total = 0;
    for (const v of inputs) {
      const compatible =
        v.rank === first.rank &&
        v.dtype === first.dtype &&
        v.shape.every((d, i) => i === axis || d === first.shape[i]);
      if (!compatible) throw new GraphError(`inputs differ outside axis ${axis}`);
      total += v.shape[axis];
    }
    return [{ shape: first.shape.map((d, i) => (i === axis ? total : d)), dtype: first.dtype }];
  },
  emit(e, inputs, outputs, { axis }) {
    e.node('Concat', inputs, outputs, { axis });
  },
  vjp(node, [g], needed) {
    if (!g) return node.inputs.map(() => null);
    const { axis } = node.attrs;
    let start = 0;
    return node.inputs.map((v, i) => {
      const end = start + v.shape[axis];
      const part = needed[i] ? slice(g, [start], [end], [axis]) : null;
      start = end;
      return part;
    });
  },
};

export function concat(values: readonly Value[], axis: number): Value {
  if (values.length === 0) throw new GraphError('Concat: needs at least one input');
  if (values.length === 1) return values[0];
  const a = checked('Concat', values, () => normalizeAxis(axis, values[0].rank));
  return apply(Concat, values, { axis: a })[0];
}
