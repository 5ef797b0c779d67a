import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { broadcastShapes, formatShape, type Shape, sameShape } from '../shape.ts';
import { sumToShape } from './reduce.ts';

interface ExpandAttrs {
  readonly shape: Shape;
}

const Expand: OpDef<ExpandAttrs> = {
  name: 'Expand',
  infer([x], { shape }) {
    const out = broadcastShapes(x.shape, shape);
    if (!sameShape(out, shape)) throw new GraphError(`cannot expand to ${formatShape(shape)}`);
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, [x], outputs, { shape }) {
    e.node('Expand', [x, e.int64s(shape)], outputs);
  },
  vjp: (node, [g]) => [g && sumToShape(g, node.inputs[0].shape)],
};

/** Broadcasts `x` to `shape`. */
export function expand(x: Value, shape: Shape): Value {
  if (sameShape(x.shape, shape)) return x;
  return apply(Expand, [x], { shape })[0];
}
