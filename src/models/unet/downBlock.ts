import type { Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { type BlockContext, type BlockSettings, resnetIn, transformerIn } from './blockContext.ts';
import { downsample } from './sampling.ts';

/**
 * diffusers' `CrossAttnDownBlock2D` (`withAttention`) or `DownBlock2D`: per layer a resnet (then a
 * Transformer2DModel), each output kept for the skip connections, then the downsampler (all but the last
 * block), whose output is kept too. Returns the block's output and its skip tensors in order.
 */
export function downBlock(
  ctx: BlockContext,
  p: ParameterSource,
  settings: BlockSettings,
  x: Value,
  { outChannels, layers, withAttention, addDownsample }: DownBlockShape,
): { output: Value; skips: Value[] } {
  const skips: Value[] = [];
  let h = x;
  for (let i = 0; i < layers; i++) {
    h = resnetIn(ctx, settings, p, i, h, outChannels);
    if (withAttention) h = transformerIn(ctx, settings, p, i, h);
    skips.push(h);
  }
  if (addDownsample) {
    h = downsample(p.scope('downsamplers.0'), h, ctx.config.downsamplePadding);
    skips.push(h);
  }
  return { output: h, skips };
}

export interface DownBlockShape {
  outChannels: number;
  layers: number;
  withAttention: boolean;
  addDownsample: boolean;
}
