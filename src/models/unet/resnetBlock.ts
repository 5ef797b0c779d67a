import { add, conv2d, div, mul, reshape, slice, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { conv, groupNormLayer, linear, silu } from './layers.ts';

export interface ResnetOptions {
  groups: number;
  eps: number;
  /** diffusers' `time_embedding_norm`: add the projected time embedding, or scale and shift norm2's output. */
  timeScaleShift: 'default' | 'scale_shift';
  /** `resnet_skip_time_act`: project the time embedding without the SiLU first. */
  skipTimeAct: boolean;
  outputScaleFactor: number;
}

/**
 * diffusers' `ResnetBlock2D` (pre-norm, SiLU, 3×3 convs, dropout a no-op at inference):
 * h = conv1(SiLU(norm1(x))) + time_emb_proj(SiLU(temb)); h = conv2(SiLU(norm2(h)));
 * out = (shortcut(x) + h) / output_scale_factor, shortcut a 1×1 conv when the channel count changes.
 */
export function resnetBlock(
  p: ParameterSource,
  x: Value,
  temb: Value,
  outChannels: number,
  options: ResnetOptions,
): Value {
  const { groups, eps } = options;
  const inChannels = x.shape[1];
  let h = conv(p.scope('conv1'), silu(groupNormLayer(p.scope('norm1'), x, groups, eps)), outChannels, 3);

  const scaleShift = options.timeScaleShift === 'scale_shift';
  const projected = linear(
    p.scope('time_emb_proj'),
    options.skipTimeAct ? temb : silu(temb),
    scaleShift ? 2 * outChannels : outChannels,
  );
  const batch = projected.shape[0];
  if (scaleShift) {
    // chunk(2, dim=1): scale first, then shift; norm2(h)·(1 + scale) + shift.
    const scale = reshape(slice(projected, [0], [outChannels], [1]), [batch, outChannels, 1, 1]);
    const shift = reshape(slice(projected, [outChannels], [2 * outChannels], [1]), [
      batch,
      outChannels,
      1,
      1,
    ]);
    h = add(mul(groupNormLayer(p.scope('norm2'), h, groups, eps), add(scale, 1)), shift);
  } else {
    h = add(h, reshape(projected, [batch, outChannels, 1, 1]));
    h = groupNormLayer(p.scope('norm2'), h, groups, eps);
  }
  h = conv(p.scope('conv2'), silu(h), outChannels, 3);

  const shortcut =
    inChannels === outChannels
      ? x
      : conv2d(
          x,
          p.get('conv_shortcut.weight', [outChannels, inChannels, 1, 1]),
          p.get('conv_shortcut.bias', [outChannels]),
        );
  const sum = add(shortcut, h);
  return options.outputScaleFactor === 1 ? sum : div(sum, options.outputScaleFactor);
}
