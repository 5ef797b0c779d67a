import type { Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { AttentionPlace, AttentionProbes } from './attention.ts';
import type { UNetConfig } from './config.ts';
import { type ResnetOptions, resnetBlock } from './resnetBlock.ts';
import { transformer2d } from './transformer2d.ts';

/** What every block of one forward pass shares. */
export interface BlockContext {
  readonly config: UNetConfig;
  /** The time embedding [B, time_embed_dim]. */
  readonly temb: Value;
  /** encoder_hidden_states [B, keys, cross_attention_dim]. */
  readonly context: Value;
  readonly probes: AttentionProbes;
}

/** The per-block settings a down, mid or up block passes to its resnets and transformers. */
export interface BlockSettings {
  /** diffusers' module name, e.g. `down_blocks.1`. */
  path: string;
  place: AttentionPlace;
  heads: number;
  transformerLayers: number;
  onlyCrossAttention: boolean;
  resnetOutputScaleFactor: number;
}

/** The block's `resnets.{index}` ResnetBlock2D; `p` holds the block's weights. */
export function resnetIn(
  ctx: BlockContext,
  settings: BlockSettings,
  p: ParameterSource,
  index: number,
  x: Value,
  outChannels: number,
): Value {
  const { config } = ctx;
  const options: ResnetOptions = {
    groups: config.normNumGroups,
    eps: config.normEps,
    timeScaleShift: config.resnetTimeScaleShift,
    skipTimeAct: config.resnetSkipTimeAct,
    outputScaleFactor: settings.resnetOutputScaleFactor,
  };
  return resnetBlock(p.scope(`resnets.${index}`), x, ctx.temb, outChannels, options);
}

/** The block's `attentions.{index}` Transformer2DModel; `p` holds the block's weights. */
export function transformerIn(
  ctx: BlockContext,
  settings: BlockSettings,
  p: ParameterSource,
  index: number,
  x: Value,
): Value {
  const { config } = ctx;
  return transformer2d(p.scope(`attentions.${index}`), x, ctx.context, {
    heads: settings.heads,
    layers: settings.transformerLayers,
    groups: config.normNumGroups,
    useLinearProjection: config.useLinearProjection,
    onlyCrossAttention: settings.onlyCrossAttention,
    upcastAttention: config.upcastAttention,
    path: `${settings.path}.attentions.${index}`,
    place: settings.place,
    probes: ctx.probes,
  });
}
