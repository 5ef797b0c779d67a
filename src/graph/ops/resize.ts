import { GraphError } from '../errors.ts';
import { apply, checked, type OpDef, type Value } from '../graph.ts';
import { reduceSum } from './reduce.ts';
import { reshape } from './reshape.ts';

interface UpsampleAttrs {
  readonly scale: number;
}

/**
 * Nearest-neighbour upsampling of the last two axes by an integer factor, as PyTorch's
 * `interpolate(scale_factor=s, mode='nearest')`. (Nearest downsampling is a strided slice.)
 */
const UpsampleNearest: OpDef<UpsampleAttrs> = {
  name: 'Resize',
  infer([x], { scale }) {
    if (x.rank !== 4) throw new GraphError('needs an NCHW input');
    const [n, c, h, w] = x.shape;
    return [{ shape: [n, c, h * scale, w * scale], dtype: x.dtype }];
  },
  emit(e, [x], outputs, { scale }) {
    e.node('Resize', [x, '', e.floats([1, 1, scale, scale], 'float32')], outputs, {
      mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric',
      nearest_mode: 'floor',
    });
  },
  // Every input pixel is copied to a scale×scale block, so its gradient is the block's sum.
  vjp(node, [g]) {
    if (!g) return [null];
    const [n, c, h, w] = node.inputs[0].shape;
    const s = node.attrs.scale;
    return [reduceSum(reshape(g, [n, c, h, s, w, s]), [3, 5])];
  },
};

export function upsampleNearest(x: Value, scale: number): Value {
  checked('Resize', [x], () => {
    if (!(Number.isInteger(scale) && scale >= 1))
      throw new GraphError(`scale ${scale} must be a positive integer`);
  });
  if (scale === 1) return x;
  return apply(UpsampleNearest, [x], { scale })[0];
}
