import { type DType, isFloat, onnxElementType } from '../dtype.ts';
import { apply, type OpDef, type Value } from '../graph.ts';

interface CastAttrs {
  readonly to: DType;
}

const Cast: OpDef<CastAttrs> = {
  name: 'Cast',
  infer([x], { to }) {
    return [{ shape: x.shape, dtype: to }];
  },
  emit(e, inputs, outputs, { to }) {
    e.node('Cast', inputs, outputs, { to: onnxElementType[to] });
  },
  vjp(node, [g]) {
    const x = node.inputs[0];
    return [g && isFloat(x.dtype) && isFloat(node.attrs.to) ? cast(g, x.dtype) : null];
  },
};

export function cast(x: Value, to: DType): Value {
  if (x.dtype === to) return x;
  return apply(Cast, [x], { to })[0];
}
