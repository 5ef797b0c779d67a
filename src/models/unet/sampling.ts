import { gather, pad, upsampleNearest, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { conv } from './layers.ts';

/**
 * diffusers' `Downsample2D` with a conv: 3×3, stride 2, padding `downsample_padding`; padding 0 pads one zero
 * row and column at the bottom and right first (as diffusers does).
 */
export function downsample(p: ParameterSource, x: Value, padding: number): Value {
  const input =
    padding === 0
      ? pad(x, [
          [0, 0],
          [0, 0],
          [0, 1],
          [0, 1],
        ])
      : x;
  return conv(p.scope('conv'), input, x.shape[1], 3, { stride: 2, padding });
}

/**
 * diffusers' `Upsample2D` with a conv: nearest-neighbour ×2 (or to `size`, which the UNet passes when the latent
 * is not a multiple of the overall downsampling factor), then a 3×3 conv.
 */
export function upsample(p: ParameterSource, x: Value, size?: readonly [number, number]): Value {
  const [, channels, h, w] = x.shape;
  const up =
    !size || (size[0] === 2 * h && size[1] === 2 * w) ? upsampleNearest(x, 2) : resizeNearest(x, size);
  return conv(p.scope('conv'), up, channels, 3);
}

/**
 * PyTorch's `interpolate(size=…, mode='nearest')` on the last two axes: source index
 * min(floor(dst·(in/out)), in − 1) with the scale in float32, as its CPU kernel computes it.
 */
function resizeNearest(x: Value, [outH, outW]: readonly [number, number]): Value {
  const indices = (inSize: number, outSize: number) => {
    const scale = Math.fround(inSize / outSize);
    return Array.from({ length: outSize }, (_, i) =>
      Math.min(Math.floor(Math.fround(i * scale)), inSize - 1),
    );
  };
  return gather(gather(x, indices(x.shape[2], outH), 2), indices(x.shape[3], outW), 3);
}
