import { apply, checked, type OpDef, type Value } from '../graph.ts';
import { normalizeAxis } from '../shape.ts';
import { mul, sub } from './elementwise.ts';
import { reduceSum } from './reduce.ts';

interface SoftmaxAttrs {
  readonly axis: number;
}

const Softmax: OpDef<SoftmaxAttrs> = {
  name: 'Softmax',
  infer([x]) {
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit(e, inputs, outputs, { axis }) {
    e.node('Softmax', inputs, outputs, { axis });
  },
  // dx = y ⊙ (g − Σ g⊙y) along the axis.
  vjp(node, [g]) {
    if (!g) return [null];
    const y = node.outputs[0];
    return [mul(y, sub(g, reduceSum(mul(g, y), [node.attrs.axis], true)))];
  },
};

export function softmax(x: Value, axis = -1): Value {
  const a = checked('Softmax', [x], () => normalizeAxis(axis, x.rank));
  return apply(Softmax, [x], { axis: a })[0];
}
