import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';

interface TransposeAttrs {
  readonly perm: readonly number[];
}

const Transpose: OpDef<TransposeAttrs> = {
  name: 'Transpose',
  infer([x], { perm }) {
    const valid = perm.length === x.rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
    if (!valid) throw new GraphError(`perm [${perm}] is not a permutation of ${x.rank} axes`);
    return [{ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }];
  },
  emit(e, inputs, outputs, { perm }) {
    e.node('Transpose', inputs, outputs, { perm });
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const inverse: number[] = [];
    node.attrs.perm.forEach((p, i) => {
      inverse[p] = i;
    });
    return [transpose(g, inverse)];
  },
};

export function transpose(x: Value, perm: readonly number[]): Value {
  if (perm.every((p, i) => p === i) && perm.length === x.rank) return x;
  return apply(Transpose, [x], { perm })[0];
}
