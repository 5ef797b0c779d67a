import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { formatShape, normalizeAxis, type Shape, sameShape, sizeOf } from '../shape.ts';

interface ReshapeAttrs {
  readonly shape: Shape;
}

const Reshape: OpDef<ReshapeAttrs> = {
  name: 'Reshape',
  infer([x], { shape }) {
    if (sizeOf(shape) !== x.size) throw new GraphError(`cannot reshape to ${formatShape(shape)}`);
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, [x], outputs, { shape }) {
    e.node('Reshape', [x, e.int64s(shape)], outputs);
  },
  vjp: (node, [g]) => [g && reshape(g, node.inputs[0].shape)],
};

/** Reshape; one dimension may be -1 and is inferred. */
export function reshape(x: Value, shape: Shape): Value {
  const unknown = shape.indexOf(-1);
  let resolved = [...shape];
  if (unknown >= 0) {
    const known = shape.reduce((n, d, i) => (i === unknown ? n : n * d), 1);
    resolved[unknown] = known === 0 ? 0 : x.size / known;
    if (!Number.isInteger(resolved[unknown])) resolved = [...shape];
  }
  if (sameShape(resolved, x.shape)) return x;
  return apply(Reshape, [x], { shape: resolved })[0];
}

/** Inserts a dimension of size 1 at `axis`. */
export function unsqueeze(x: Value, axis: number): Value {
  const a = normalizeAxis(axis, x.rank + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Removes the dimension of size 1 at `axis`. */
export function squeeze(x: Value, axis: number): Value {
  const a = normalizeAxis(axis, x.rank);
  if (x.shape[a] !== 1) throw new GraphError(`squeeze: axis ${axis} of ${x} has size ${x.shape[a]}, not 1`);
  return reshape(
    x,
    x.shape.filter((_d, i) => i !== a),
  );
}
