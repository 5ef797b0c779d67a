import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { slice } from './slice.ts';

interface PadAttrs {
  /** [before, after] per axis; negative values crop. */
  readonly pads: readonly (readonly [number, number])[];
  readonly value: number;
}

const Pad: OpDef<PadAttrs> = {
  name: 'Pad',
  infer([x], { pads }) {
    if (pads.length !== x.rank) throw new GraphError(`needs ${x.rank} pad pairs, got ${pads.length}`);
    const shape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
    if (shape.some((d) => d < 0)) throw new GraphError('pads crop more than the input has');
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, [x], outputs, { pads, value }) {
    const onnxPads = [...pads.map((p) => p[0]), ...pads.map((p) => p[1])];
    const inputs = [x, e.int64s(onnxPads)];
    if (value !== 0) inputs.push(e.floats([value], 'float32', []));
    e.node('Pad', inputs, outputs, { mode: 'constant' });
  },
  vjp(node, [g]) {
    if (!g) return [null];
    const x = node.inputs[0];
    const { pads } = node.attrs;
    return [
      slice(
        g,
        pads.map((p) => p[0]),
        pads.map((p, i) => p[0] + x.shape[i]),
      ),
    ];
  },
};

/** Constant padding (zeros unless `value` is given). Reflect padding is built from slices (see smoothing). */
export function pad(x: Value, pads: readonly (readonly [number, number])[], value = 0): Value {
  if (pads.every(([b, a]) => b === 0 && a === 0)) return x;
  if (value !== 0 && x.dtype !== 'float32')
    throw new GraphError('Pad: a non-zero value needs a float32 input');
  return apply(Pad, [x], { pads, value })[0];
}
