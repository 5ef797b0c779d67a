import { UserError } from '../../errors.ts';
import { ConfigReader } from '../configValues.ts';

export const DOWN_BLOCK_TYPES = ['CrossAttnDownBlock2D', 'DownBlock2D'] as const;
export const UP_BLOCK_TYPES = ['CrossAttnUpBlock2D', 'UpBlock2D'] as const;
export type DownBlockType = (typeof DOWN_BLOCK_TYPES)[number];
export type UpBlockType = (typeof UP_BLOCK_TYPES)[number];

/** SDXL's micro-conditioning: original size (h, w), crop top-left (top, left), target size (h, w). */
export const TEXT_TIME_IDS = 6;

/**
 * diffusers' `addition_embed_type: "text_time"` (SDXL): the pooled text embedding and the sinusoids of the
 * `TEXT_TIME_IDS` time ids, concatenated, go through `add_embedding` and are added to the time embedding.
 */
export interface TextTimeAddition {
  type: 'text_time';
  /** `addition_time_embed_dim`: sinusoid width per time id (SDXL: 256). */
  timeEmbedDim: number;
  /** `projection_class_embeddings_input_dim`: add_embedding's input width = pooledDim + 6 × timeEmbedDim. */
  projectionInputDim: number;
  /** The pooled text embedding's width (`text_embeds`; SDXL: 1280), what the projection input leaves. */
  pooledDim: number;
}

/**
 * diffusers' `UNet2DConditionModel` config (0.21.4), resolved: per-block lists where diffusers accepts an int or
 * a list, defaults for absent keys, and the head count where diffusers' `attention_head_dim` means it.
 */
export interface UNetConfig {
  /** The config file, for messages. */
  path: string;
  /** The latent size the model was trained at ([h, w]), or null when the config has none. */
  sampleSize: [number, number] | null;
  inChannels: number;
  outChannels: number;
  centerInputSample: boolean;
  flipSinToCos: boolean;
  freqShift: number;
  downBlockTypes: DownBlockType[];
  /** null: no mid block (diffusers' `mid_block_type: null`). */
  midBlockType: 'UNetMidBlock2DCrossAttn' | null;
  upBlockTypes: UpBlockType[];
  blockOutChannels: number[];
  /** Per down block (up blocks use the reversed list, plus one layer). */
  layersPerBlock: number[];
  /** Per down block. */
  transformerLayersPerBlock: number[];
  /** Per down block. */
  onlyCrossAttention: boolean[];
  /** Attention heads per down block: `num_attention_heads` when set, else `attention_head_dim` (diffusers' naming). */
  heads: number[];
  /** The text embedding width (diffusers allows a per-block list; one context feeds every block, so all agree). */
  crossAttentionDim: number;
  downsamplePadding: number;
  midBlockScaleFactor: number;
  normNumGroups: number;
  normEps: number;
  useLinearProjection: boolean;
  upcastAttention: boolean;
  resnetTimeScaleShift: 'default' | 'scale_shift';
  resnetSkipTimeAct: boolean;
  /** Width of the time embedding MLP: `time_embedding_dim`, else 4 × block_out_channels[0]. */
  timeEmbedDim: number;
  convInKernel: number;
  convOutKernel: number;
  /** The embedding added to the time embedding (SDXL's text_time), or null (SD 1.x/2.x). */
  addition: TextTimeAddition | null;
}

/** Reads a unet/config.json with diffusers 0.21.4's `UNet2DConditionModel` defaults for absent keys. */
export function parseUNetConfig(path: string, raw: Record<string, unknown>): UNetConfig {
  const c = new ConfigReader(path, raw);
  if (raw['_class_name'] !== undefined && raw['_class_name'] !== 'UNet2DConditionModel') {
    throw c.unsupported('_class_name', 'the UNet must be a UNet2DConditionModel');
  }

  // Features this implementation does not have: each must keep its "off" value.
  c.nullOrAbsent('class_embed_type', 'class embeddings are not supported');
  c.nullOrAbsent('num_class_embeds', 'class embeddings are not supported');
  c.nullOrAbsent('encoder_hid_dim', 'an encoder_hid_proj is not supported');
  c.nullOrAbsent('encoder_hid_dim_type', 'an encoder_hid_proj is not supported');
  c.nullOrAbsent('time_cond_proj_dim', 'timestep conditioning (LCM) is not supported');
  c.nullOrAbsent('timestep_post_act', 'an activation after the time embedding is not supported');
  c.nullOrAbsent('time_embedding_act_fn', 'an activation after the time embedding is not supported');
  c.nullOrAbsent('cross_attention_norm', 'a norm of the cross-attention context is not supported');
  c.oneOf('time_embedding_type', 'positional', ['positional'] as const);
  c.oneOf('attention_type', 'default', ['default'] as const);
  c.oneOf('act_fn', 'silu', ['silu', 'swish'] as const);
  if (c.boolean('dual_cross_attention', false)) {
    throw c.unsupported('dual_cross_attention', 'only false is supported');
  }

  const blockOutChannels = c.positiveInts('block_out_channels', [320, 640, 1280, 1280]);
  const blocks = blockOutChannels.length;
  const downBlockTypes = c
    .strings('down_block_types', [
      'CrossAttnDownBlock2D',
      'CrossAttnDownBlock2D',
      'CrossAttnDownBlock2D',
      'DownBlock2D',
    ])
    // diffusers' get_down_block/get_up_block strip this prefix.
    .map((t) => (t.startsWith('UNetRes') ? t.slice(7) : t));
  const upBlockTypes = c
    .strings('up_block_types', [
      'UpBlock2D',
      'CrossAttnUpBlock2D',
      'CrossAttnUpBlock2D',
      'CrossAttnUpBlock2D',
    ])
    .map((t) => (t.startsWith('UNetRes') ? t.slice(7) : t));
  if (downBlockTypes.length !== blocks || !downBlockTypes.every(isIn(DOWN_BLOCK_TYPES))) {
    throw c.unsupported(
      'down_block_types',
      `expected one of ${DOWN_BLOCK_TYPES.join(', ')} per block_out_channels entry (${blocks})`,
    );
  }
  if (upBlockTypes.length !== blocks || !upBlockTypes.every(isIn(UP_BLOCK_TYPES))) {
    throw c.unsupported(
      'up_block_types',
      `expected one of ${UP_BLOCK_TYPES.join(', ')} per block_out_channels entry (${blocks})`,
    );
  }
  const midBlockType =
    raw['mid_block_type'] === null
      ? null
      : c.oneOf('mid_block_type', 'UNetMidBlock2DCrossAttn', ['UNetMidBlock2DCrossAttn'] as const);

  const perBlock = (key: string, fallback: number): number[] => {
    const value = raw[key] ?? fallback;
    if (typeof value === 'number') return new Array(blocks).fill(c.positiveInt(key, fallback));
    const list = c.positiveInts(key, [fallback]);
    if (list.length !== blocks) {
      throw c.unsupported(key, `expected an integer or a list of ${blocks} (one per down block)`);
    }
    return list;
  };
  const attentionHeadDim = perBlock('attention_head_dim', 8);
  // diffusers: `num_attention_heads = num_attention_heads or attention_head_dim`; in SD 1.x/2.x configs
  // `attention_head_dim` is the number of heads, and the head width is channels / heads.
  const heads = raw['num_attention_heads'] == null ? attentionHeadDim : perBlock('num_attention_heads', 8);

  const onlyCrossRaw = raw['only_cross_attention'] ?? false;
  let onlyCrossAttention: boolean[];
  if (typeof onlyCrossRaw === 'boolean') onlyCrossAttention = new Array(blocks).fill(onlyCrossRaw);
  else if (
    Array.isArray(onlyCrossRaw) &&
    onlyCrossRaw.length === blocks &&
    onlyCrossRaw.every((v) => typeof v === 'boolean')
  ) {
    onlyCrossAttention = onlyCrossRaw as boolean[];
  } else {
    throw c.unsupported('only_cross_attention', `expected true, false or a list of ${blocks} of them`);
  }

  const normNumGroups = raw['norm_num_groups'] === null ? 0 : c.positiveInt('norm_num_groups', 32);
  if (normNumGroups === 0) {
    throw c.unsupported('norm_num_groups', 'a UNet without group norms is not supported');
  }
  const indivisible = blockOutChannels.find((ch) => ch % normNumGroups !== 0);
  if (indivisible !== undefined) {
    throw c.unsupported(
      'norm_num_groups',
      `every block_out_channels entry must split into the groups; ${indivisible} does not`,
    );
  }
  blockOutChannels.forEach((ch, i) => {
    const needsHeads =
      downBlockTypes[i] === 'CrossAttnDownBlock2D' ||
      upBlockTypes[blocks - 1 - i] === 'CrossAttnUpBlock2D' ||
      (i === blocks - 1 && midBlockType !== null);
    if (needsHeads && ch % heads[i] !== 0) {
      throw c.unsupported(
        raw['num_attention_heads'] == null ? 'attention_head_dim' : 'num_attention_heads',
        `the head count must divide the block's channels; ${heads[i]} does not divide ${ch}`,
      );
    }
  });

  const convKernel = (key: string): number => {
    const k = c.positiveInt(key, 3);
    if (k % 2 !== 1) throw c.unsupported(key, 'expected an odd kernel size');
    return k;
  };
  const downsamplePadding = raw['downsample_padding'] ?? 1;
  if (
    !(typeof downsamplePadding === 'number' && Number.isInteger(downsamplePadding) && downsamplePadding >= 0)
  ) {
    throw c.unsupported('downsample_padding', 'expected a non-negative integer');
  }
  const freqShift = raw['freq_shift'] ?? 0;
  if (typeof freqShift !== 'number' || !Number.isFinite(freqShift)) {
    throw c.unsupported('freq_shift', 'expected a number');
  }
  const midBlockScaleFactor = raw['mid_block_scale_factor'] ?? 1;
  if (typeof midBlockScaleFactor !== 'number' || !(midBlockScaleFactor > 0)) {
    throw c.unsupported('mid_block_scale_factor', 'expected a positive number');
  }

  return {
    path,
    sampleSize: sampleSizeOf(c),
    inChannels: c.positiveInt('in_channels', 4),
    outChannels: c.positiveInt('out_channels', 4),
    centerInputSample: c.boolean('center_input_sample', false),
    flipSinToCos: c.boolean('flip_sin_to_cos', true),
    freqShift,
    downBlockTypes: downBlockTypes as DownBlockType[],
    midBlockType,
    upBlockTypes: upBlockTypes as UpBlockType[],
    blockOutChannels,
    layersPerBlock: perBlock('layers_per_block', 2),
    transformerLayersPerBlock: perBlock('transformer_layers_per_block', 1),
    onlyCrossAttention,
    heads,
    crossAttentionDim: singleWidth(c, perBlock('cross_attention_dim', 1280)),
    downsamplePadding,
    midBlockScaleFactor,
    normNumGroups,
    normEps: c.positiveNumber('norm_eps', 1e-5),
    useLinearProjection: c.boolean('use_linear_projection', false),
    upcastAttention: c.boolean('upcast_attention', false),
    resnetTimeScaleShift: c.oneOf('resnet_time_scale_shift', 'default', ['default', 'scale_shift'] as const),
    resnetSkipTimeAct: c.boolean('resnet_skip_time_act', false),
    timeEmbedDim:
      raw['time_embedding_dim'] == null ? blockOutChannels[0] * 4 : c.positiveInt('time_embedding_dim', 0),
    convInKernel: convKernel('conv_in_kernel'),
    convOutKernel: convKernel('conv_out_kernel'),
    addition: additionOf(c),
  };
}

/** `addition_embed_type` and its widths; only SDXL's `text_time` (or none) is implemented. */
function additionOf(c: ConfigReader): TextTimeAddition | null {
  const type = c.raw['addition_embed_type'];
  if (type === undefined || type === null) return null;
  if (type !== 'text_time') {
    throw c.unsupported('addition_embed_type', 'supported: "text_time" (SDXL) or null');
  }
  // diffusers has no defaults for these two with text_time; without them the model cannot be built.
  const required = (key: string, sdxl: number): number => {
    if (c.raw[key] === undefined || c.raw[key] === null) {
      throw new UserError(
        `${c.path}: "addition_embed_type" is "text_time", which needs "${key}" (a positive integer; SDXL: ${sdxl})`,
      );
    }
    return c.positiveInt(key, 0);
  };
  const timeEmbedDim = required('addition_time_embed_dim', 256);
  const projectionInputDim = required('projection_class_embeddings_input_dim', 2816);
  const pooledDim = projectionInputDim - TEXT_TIME_IDS * timeEmbedDim;
  if (pooledDim <= 0) {
    throw c.unsupported(
      'projection_class_embeddings_input_dim',
      `it must be the pooled text embedding's width plus ${TEXT_TIME_IDS} × addition_time_embed_dim = ${TEXT_TIME_IDS * timeEmbedDim}`,
    );
  }
  return { type: 'text_time', timeEmbedDim, projectionInputDim, pooledDim };
}

function sampleSizeOf(c: ConfigReader): [number, number] | null {
  const value = c.raw['sample_size'];
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') {
    const size = c.positiveInt('sample_size', 0);
    return [size, size];
  }
  const list = c.positiveInts('sample_size', []);
  if (list.length !== 2) throw c.unsupported('sample_size', 'expected an integer or [height, width]');
  return [list[0], list[1]];
}

function singleWidth(c: ConfigReader, widths: number[]): number {
  if (widths.some((w) => w !== widths[0])) {
    throw c.unsupported(
      'cross_attention_dim',
      'one text embedding feeds every block, so the widths must agree',
    );
  }
  return widths[0];
}

function isIn<T extends string>(choices: readonly T[]): (value: string) => value is T {
  return (value): value is T => (choices as readonly string[]).includes(value);
}

/** How many times the down blocks halve the latent: the number of down blocks with a downsampler. */
export function downsampleCount(config: UNetConfig): number {
  return config.blockOutChannels.length - 1;
}
