import type { DType } from '../dtype.ts';
import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { broadcastShapes } from '../shape.ts';
import { toValue } from './operand.ts';
import { sumToShape } from './reduce.ts';

/** ONNX Where: picks from `a` where `condition` is true, else from `b`, with broadcasting. */
const Where: OpDef<null> = {
  name: 'Where',
  infer([condition, a, b]) {
    if (condition.dtype !== 'bool') throw new GraphError(`condition must be bool, got ${condition.dtype}`);
    if (a.dtype !== b.dtype) throw new GraphError(`branch dtypes differ: ${a.dtype} and ${b.dtype}`);
    return [{ shape: broadcastShapes(condition.shape, broadcastShapes(a.shape, b.shape)), dtype: a.dtype }];
  },
  emit(e, inputs, outputs) {
    e.node('Where', inputs, outputs);
  },
  vjp(node, [g], needed) {
    if (!g) return [null, null, null];
    const [condition, a, b] = node.inputs;
    return [
      null,
      needed[1] ? sumToShape(where(condition, g, 0), a.shape) : null,
      needed[2] ? sumToShape(where(condition, 0, g), b.shape) : null,
    ];
  },
};

/** `condition ? a : b`; number branches become scalars of the other branch's dtype (or `dtype`). */
export function where(condition: Value, a: Value | number, b: Value | number, dtype?: DType): Value {
  const like = typeof a !== 'number' ? a : typeof b !== 'number' ? b : null;
  const type = like?.dtype ?? dtype ?? 'float32';
  const va = typeof a === 'number' ? condition.graph.scalar(a, type) : a;
  const vb = toValue(b, va, type);
  return apply(Where, [condition, va, vb], null)[0];
}
