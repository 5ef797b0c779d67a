import { concat, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { type BlockContext, type BlockSettings, resnetIn, transformerIn } from './blockContext.ts';
import { upsample } from './sampling.ts';

export interface UpBlockShape {
  outChannels: number;
  /** layers_per_block + 1. */
  layers: number;
  withAttention: boolean;
  /** The upsampler's output size ([2h, 2w] unless the latent is not a multiple of the downsampling factor). */
  upsampleTo: readonly [number, number] | null;
}

/**
 * diffusers' `CrossAttnUpBlock2D` (`withAttention`) or `UpBlock2D`: per layer, concatenate the last unused skip
 * tensor after the hidden state on the channel axis, a resnet (then a Transformer2DModel); then the upsampler
 * (all but the last block). `skips` are the block's skip tensors in the order the down path made them; they are
 * consumed from the end.
 */
export function upBlock(
  ctx: BlockContext,
  p: ParameterSource,
  settings: BlockSettings,
  x: Value,
  skips: readonly Value[],
  { outChannels, layers, withAttention, upsampleTo }: UpBlockShape,
): Value {
  if (skips.length !== layers)
    throw new Error(`up block ${settings.path} needs ${layers} skips, got ${skips.length}`);
  let h = x;
  for (let i = 0; i < layers; i++) {
    h = concat([h, skips[skips.length - 1 - i]], 1);
    h = resnetIn(ctx, settings, p, i, h, outChannels);
    if (withAttention) h = transformerIn(ctx, settings, p, i, h);
  }
  return upsampleTo ? upsample(p.scope('upsamplers.0'), h, upsampleTo) : h;
}
