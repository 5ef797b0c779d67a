import { GraphError } from '../errors.ts';
import { apply, checked, type OpDef, type Value } from '../graph.ts';
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
    // allowzero: a 0 in the shape is an empty axis, not ONNX's default "copy the input's dimension".
    e.node('Reshape', [x, e.int64s(shape)], outputs, { allowzero: 1 });
  },
  vjp: (node, [g]) => [g && reshape(g, node.inputs[0].shape)],
};

/** Reshape; one dimension may be -1 and is inferred. */
export function reshape(x: Value, shape: Shape): Value {
  const resolved = checked('Reshape', [x], () => resolveShape(shape, x.size));
  if (sameShape(resolved, x.shape)) return x;
  return apply(Reshape, [x], { shape: resolved })[0];
}

function resolveShape(shape: Shape, size: number): number[] {
  const cannot = () => new GraphError(`cannot reshape to ${formatShape(shape)}`);
  if (!shape.every((d) => Number.isInteger(d) && d >= -1)) throw cannot();
  const unknown = shape.indexOf(-1);
  if (unknown < 0) return [...shape];
  if (shape.indexOf(-1, unknown + 1) >= 0) throw cannot();
  const known = shape.reduce((n, d, i) => (i === unknown ? n : n * d), 1);
  const inferred = known === 0 ? 0 : size / known;
  if (!Number.isInteger(inferred)) throw cannot();
  return shape.map((d, i) => (i === unknown ? inferred : d));
}

/** Inserts a dimension of size 1 at `axis`. */
export function unsqueeze(x: Value, axis: number): Value {
  const a = checked('Unsqueeze', [x], () => normalizeAxis(axis, x.rank + 1));
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Removes the dimension of size 1 at `axis`. */
export function squeeze(x: Value, axis: number): Value {
  const a = checked('Squeeze', [x], () => {
    const resolved = normalizeAxis(axis, x.rank);
    if (x.shape[resolved] !== 1) throw new GraphError(`axis ${axis} has size ${x.shape[resolved]}, not 1`);
    return resolved;
  });
  return reshape(
    x,
    x.shape.filter((_d, i) => i !== a),
  );
}
