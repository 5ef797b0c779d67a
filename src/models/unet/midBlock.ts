import type { Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { type BlockContext, type BlockSettings, resnetIn, transformerIn } from './blockContext.ts';

/**
 * diffusers' `UNetMidBlock2DCrossAttn` (one attention layer): resnet, Transformer2DModel, resnet, all at the
 * input's channel count, resnets scaled by `mid_block_scale_factor`.
 */
export function midBlock(ctx: BlockContext, p: ParameterSource, settings: BlockSettings, x: Value): Value {
  const channels = x.shape[1];
  let h = resnetIn(ctx, settings, p, 0, x, channels);
  h = transformerIn(ctx, settings, p, 0, h);
  return resnetIn(ctx, settings, p, 1, h, channels);
}
