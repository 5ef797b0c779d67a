import { GraphError } from '../errors.ts';
import { apply, checked, type OpDef, type Value } from '../graph.ts';
import { normalizeAxis } from '../shape.ts';
import { expand } from './expand.ts';
import { reshape } from './reshape.ts';

interface GatherAttrs {
  readonly axis: number;
}

const Gather: OpDef<GatherAttrs> = {
  name: 'Gather',
  infer([x, indices], { axis }) {
    if (indices.dtype !== 'int64') throw new GraphError(`indices must be int64, got ${indices.dtype}`);
    const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, inputs, outputs, { axis }) {
    e.node('Gather', inputs, outputs, { axis });
  },
  // Scatter-add g back along the axis; repeated indices accumulate, as in PyTorch's index_select backward.
  vjp(node, [g], needed) {
    if (!g || !needed[0]) return [null, null];
    const [x, indices] = node.inputs;
    const { axis } = node.attrs;
    const flat = indices.size;
    const gFlat = reshape(g, [...x.shape.slice(0, axis), flat, ...x.shape.slice(axis + 1)]);
    const indexShape = gFlat.shape.map((d, i) => (i === axis ? d : 1));
    const index = expand(reshape(indices, indexShape), gFlat.shape);
    const zeros = x.graph.zeros(x.shape, x.dtype);
    return [apply(ScatterAdd, [zeros, index, gFlat], { axis })[0], null];
  },
};

/** ONNX ScatterElements with add reduction; used only by Gather's gradient. */
const ScatterAdd: OpDef<GatherAttrs> = {
  name: 'ScatterElements',
  infer([data]) {
    return [{ shape: data.shape, dtype: data.dtype }];
  },
  emit(e, inputs, outputs, { axis }) {
    e.node('ScatterElements', inputs, outputs, { axis, reduction: 'add' });
  },
};

const isIndexValue = (indices: Value | readonly number[]): indices is Value => !Array.isArray(indices);

/** Takes entries of `x` along `axis` at the given int64 `indices` (a value or a list of numbers). */
export function gather(x: Value, indices: Value | readonly number[], axis = 0): Value {
  const a = checked('Gather', [x], () => {
    const resolved = normalizeAxis(axis, x.rank);
    // Constant indices are checked now; ONNX Runtime would only fail when the graph runs.
    const size = x.shape[resolved];
    const bad = isIndexValue(indices)
      ? undefined
      : indices.find((i) => !Number.isInteger(i) || i < -size || i >= size);
    if (bad !== undefined)
      throw new GraphError(`index ${bad} is out of range for axis ${axis} of size ${size}`);
    return resolved;
  });
  const index = isIndexValue(indices) ? indices : x.graph.constant(indices, [indices.length], 'int64');
  return apply(Gather, [x, index], { axis: a })[0];
}
