import { isFloat } from '../dtype.ts';
import { GraphError } from '../errors.ts';
import { apply, checked, type OpDef, type Value } from '../graph.ts';

interface PadAttrs {
  /** [before, after] per axis; negative values crop. */
  readonly pads: readonly (readonly [number, number])[];
  readonly value: number;
}

const Pad: OpDef<PadAttrs> = {
  name: 'Pad',
  infer([x], { pads }) {
    if (pads.length !== x.rank) throw new GraphError(`needs ${x.rank} pad pairs, got ${pads.length}`);
    if (!pads.every((p) => p.length === 2 && p.every(Number.isInteger))) {
      throw new GraphError(`pads must be [before, after] integer pairs, got ${JSON.stringify(pads)}`);
    }
    const shape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
    if (shape.some((d) => d < 0)) throw new GraphError('pads crop more than the input has');
    return [{ shape, dtype: x.dtype }];
  },
  emit(e, [x], outputs, { pads, value }, node) {
    const onnxPads = [...pads.map((p) => p[0]), ...pads.map((p) => p[1])];
    const inputs = [x, e.int64s(onnxPads)];
    // ONNX wants the pad value in the data's own type.
    if (value !== 0) inputs.push(e.floats([value], node.inputs[0].dtype, []));
    e.node('Pad', inputs, outputs, { mode: 'constant' });
  },
  // Padding and cropping undo each other: the gradient is g padded by the negated amounts, which crops the
  // padded border away and puts zeros where the forward pass cropped.
  vjp(node, [g]) {
    if (!g) return [null];
    return [
      pad(
        g,
        node.attrs.pads.map(([before, after]) => [-before, -after]),
      ),
    ];
  },
};

/** Constant padding (zeros unless `value` is given); negative amounts crop. Reflect padding: see docs/ops.md. */
export function pad(x: Value, pads: readonly (readonly [number, number])[], value = 0): Value {
  if (pads.length === x.rank && pads.every(([b, a]) => b === 0 && a === 0)) return x;
  checked('Pad', [x], () => {
    if (value !== 0 && !isFloat(x.dtype)) throw new GraphError(`a pad value ${value} needs a float input`);
  });
  return apply(Pad, [x], { pads, value })[0];
}
