import { add, mul, slice, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { type AttentionPlace, type AttentionProbes, attention } from './attention.ts';
import { gelu, layerNormLayer, linear } from './layers.ts';

export interface TransformerBlockOptions {
  heads: number;
  onlyCrossAttention: boolean;
  upcastAttention: boolean;
  /** diffusers' module name of this block, e.g. `down_blocks.1.attentions.0.transformer_blocks.0`. */
  path: string;
  place: AttentionPlace;
  /** The query grid of the tokens, [h, w]. */
  resolution: readonly [number, number];
  probes: AttentionProbes;
}

/**
 * diffusers' `BasicTransformerBlock` (norm_type layer_norm, GEGLU feed-forward, no attention bias):
 * x += attn1(norm1(x)) (self-attention, or cross-attention with only_cross_attention);
 * x += attn2(norm2(x), context); x += ff(norm3(x)). Tokens [B, N, C], context [B, keys, D].
 */
export function transformerBlock(
  p: ParameterSource,
  x: Value,
  context: Value,
  options: TransformerBlockOptions,
): Value {
  const { heads, path, place, resolution, probes } = options;
  const layer = (name: string, kind: 'self' | 'cross') => ({
    name: `${path}.${name}`,
    place,
    kind,
    resolution,
    heads,
  });
  // Half-precision scores lose the small probabilities the guidance reads: q·kᵀ and softmax run in float32.
  const upcast = options.upcastAttention || x.dtype === 'float16';
  const only = options.onlyCrossAttention;
  let h = add(
    attention(p.scope('attn1'), layerNormLayer(p.scope('norm1'), x), only ? context : null, {
      heads,
      upcast,
      layer: layer('attn1', only ? 'cross' : 'self'),
      probes,
    }),
    x,
  );
  h = add(
    attention(p.scope('attn2'), layerNormLayer(p.scope('norm2'), h), context, {
      heads,
      upcast,
      layer: layer('attn2', 'cross'),
      probes,
    }),
    h,
  );
  return add(feedForward(p.scope('ff'), layerNormLayer(p.scope('norm3'), h)), h);
}

/**
 * diffusers' `FeedForward` with GEGLU, mult 4: net.0.proj to 2·4C, chunk into (hidden, gate),
 * hidden·gelu(gate) with the exact GELU, then net.2 back to C.
 */
function feedForward(p: ParameterSource, x: Value): Value {
  const dim = x.shape[x.rank - 1];
  const inner = dim * 4;
  const projected = linear(p.scope('net.0.proj'), x, 2 * inner);
  const axis = projected.rank - 1;
  const hidden = slice(projected, [0], [inner], [axis]);
  const gate = slice(projected, [inner], [2 * inner], [axis]);
  return linear(p.scope('net.2'), mul(hidden, gelu(gate)), dim);
}
