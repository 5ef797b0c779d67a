import { add, reshape, transpose, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { AttentionPlace, AttentionProbes } from './attention.ts';
import { conv, groupNormLayer, linear } from './layers.ts';
import { transformerBlock } from './transformerBlock.ts';

export interface Transformer2DOptions {
  heads: number;
  layers: number;
  groups: number;
  useLinearProjection: boolean;
  onlyCrossAttention: boolean;
  upcastAttention: boolean;
  /** diffusers' module name, e.g. `up_blocks.1.attentions.2`. */
  path: string;
  place: AttentionPlace;
  probes: AttentionProbes;
}

/**
 * diffusers' `Transformer2DModel` for continuous input: GroupNorm (eps 1e-6), proj_in (1×1 conv, or Linear with
 * use_linear_projection, applied after flattening), the transformer blocks over the h·w tokens (row-major), proj_out,
 * plus the input. The inner width equals the channel count (heads × channels/heads).
 */
export function transformer2d(
  p: ParameterSource,
  x: Value,
  context: Value,
  options: Transformer2DOptions,
): Value {
  const [batch, channels, height, width] = x.shape;
  const normed = groupNormLayer(p.scope('norm'), x, options.groups, 1e-6);
  const toTokens = (v: Value) => reshape(transpose(v, [0, 2, 3, 1]), [batch, height * width, channels]);
  const toImage = (v: Value) => transpose(reshape(v, [batch, height, width, channels]), [0, 3, 1, 2]);

  let h = options.useLinearProjection
    ? linear(p.scope('proj_in'), toTokens(normed), channels)
    : toTokens(conv(p.scope('proj_in'), normed, channels, 1));
  for (let i = 0; i < options.layers; i++) {
    const path = `${options.path}.transformer_blocks.${i}`;
    h = transformerBlock(p.scope(`transformer_blocks.${i}`), h, context, {
      heads: options.heads,
      onlyCrossAttention: options.onlyCrossAttention,
      upcastAttention: options.upcastAttention,
      path,
      place: options.place,
      resolution: [height, width],
      probes: options.probes,
    });
  }
  const out = options.useLinearProjection
    ? toImage(linear(p.scope('proj_out'), h, channels))
    : conv(p.scope('proj_out'), toImage(h), channels, 1);
  return add(out, x);
}
