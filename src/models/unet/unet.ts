import { UserError } from '../../errors.ts';
import { add, cast, type DType, mul, sub, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { additionEmbedding, type TextTimeInputs } from './additionEmbedding.ts';
import {
  type AttentionLayerInfo,
  AttentionProbes,
  type AttentionRecord,
  type MaterializeProbabilities,
} from './attention.ts';
import type { BlockContext, BlockSettings } from './blockContext.ts';
import type { UNetConfig } from './config.ts';
import { downBlock } from './downBlock.ts';
import { conv, groupNormLayer, silu } from './layers.ts';
import { midBlock } from './midBlock.ts';
import { timeEmbedding } from './timestepEmbedding.ts';
import { upBlock } from './upBlock.ts';

export interface UNetInputs extends Partial<TextTimeInputs> {
  /** Latents [B, in_channels, H, W] float32. */
  sample: Value;
  /** The timestep: a scalar, [1] or [B] float32 (integer values as the schedulers give them). */
  timestep: Value;
  /** Text embeddings [B, keys, cross_attention_dim] float32. */
  encoderHiddenStates: Value;
  // textEmbeds [B, pooled] and timeIds [B, 6]: required when the config has the text_time addition (SDXL).
}

export interface UNetForwardOptions {
  /**
   * Which attention layers must expose their probabilities (default: all). Serialisation emits only what the
   * requested outputs need, so unread probabilities cost nothing either way; answering false leaves a layer
   * free to use a fused attention kernel, and it does not appear in `attention`.
   */
  materialize?: MaterializeProbabilities;
  /** The dtype the network computes in (weights are cast to it); default float32. */
  dtype?: DType;
}

export interface UNetOutput {
  /** The noise prediction [B, out_channels, H, W] float32. */
  noise: Value;
  /** The materialised attention layers' probabilities, in call order (down, mid, up; attn1 before attn2). */
  attention: AttentionRecord[];
  /** Every attention layer, materialised or not, in call order. */
  layers: AttentionLayerInfo[];
}

/**
 * diffusers' `UNet2DConditionModel.forward` (0.21.4) for the configurations `parseUNetConfig` accepts: time
 * embedding (plus SDXL's text_time embedding), conv_in, down blocks (keeping skip tensors), mid block, up
 * blocks (consuming them from the end), GroupNorm, SiLU, conv_out.
 */
export function unetForward(
  params: ParameterSource,
  config: UNetConfig,
  inputs: UNetInputs,
  options: UNetForwardOptions = {},
): UNetOutput {
  const dtype = options.dtype ?? 'float32';
  const { sample, encoderHiddenStates } = inputs;
  checkInputs(config, sample, encoderHiddenStates);
  const [batch, , height, width] = sample.shape;
  const augmentation = additionEmbedding(params, config, inputs, batch, dtype);
  const probes = new AttentionProbes(options.materialize);

  let temb = timeEmbedding(params, config, inputs.timestep, batch, dtype);
  if (augmentation) temb = add(temb, augmentation);

  const channels0 = config.blockOutChannels[0];

  let h = cast(sample, dtype);
  if (config.centerInputSample) h = sub(mul(h, 2), 1);
  h = conv(params.scope('conv_in'), h, channels0, config.convInKernel);

  const ctx: BlockContext = { config, temb, context: cast(encoderHiddenStates, dtype), probes };
  const blocks = config.blockOutChannels.length;
  const settings = (path: string, place: BlockSettings['place'], i: number): BlockSettings => ({
    path,
    place,
    heads: config.heads[i],
    transformerLayers: config.transformerLayersPerBlock[i],
    onlyCrossAttention: config.onlyCrossAttention[i],
    resnetOutputScaleFactor: 1,
  });

  const skips: Value[] = [h];
  config.downBlockTypes.forEach((type, i) => {
    const path = `down_blocks.${i}`;
    const result = downBlock(ctx, params.scope(path), settings(path, 'down', i), h, {
      outChannels: config.blockOutChannels[i],
      layers: config.layersPerBlock[i],
      withAttention: type === 'CrossAttnDownBlock2D',
      addDownsample: i < blocks - 1,
    });
    h = result.output;
    skips.push(...result.skips);
  });

  if (config.midBlockType !== null) {
    // diffusers' UNetMidBlock2DCrossAttn takes no only_cross_attention; its resnets use mid_block_scale_factor.
    const mid: BlockSettings = {
      ...settings('mid_block', 'mid', blocks - 1),
      onlyCrossAttention: false,
      resnetOutputScaleFactor: config.midBlockScaleFactor,
    };
    h = midBlock(ctx, params.scope('mid_block'), mid, h);
  }

  // diffusers passes explicit upsample sizes when the latent is not a multiple of 2^(number of upsamplers).
  const factor = 2 ** (blocks - 1);
  const forwardUpsampleSize = height % factor !== 0 || width % factor !== 0;
  config.upBlockTypes.forEach((type, i) => {
    const down = blocks - 1 - i;
    const layers = config.layersPerBlock[down] + 1;
    const own = skips.splice(skips.length - layers, layers);
    const isFinal = i === blocks - 1;
    let upsampleTo: [number, number] | null = null;
    if (!isFinal) {
      const next = skips[skips.length - 1];
      upsampleTo = forwardUpsampleSize ? [next.shape[2], next.shape[3]] : [2 * h.shape[2], 2 * h.shape[3]];
    }
    const path = `up_blocks.${i}`;
    h = upBlock(ctx, params.scope(path), settings(path, 'up', down), h, own, {
      outChannels: config.blockOutChannels[down],
      layers,
      withAttention: type === 'CrossAttnUpBlock2D',
      upsampleTo,
    });
  });

  h = groupNormLayer(params.scope('conv_norm_out'), h, config.normNumGroups, config.normEps);
  h = conv(params.scope('conv_out'), silu(h), config.outChannels, config.convOutKernel);
  return { noise: cast(h, 'float32'), attention: probes.records, layers: probes.layers };
}

function checkInputs(config: UNetConfig, sample: Value, context: Value): void {
  const where = `the UNet (${config.path})`;
  if (sample.rank !== 4 || sample.shape[1] !== config.inChannels || sample.dtype !== 'float32') {
    throw new UserError(
      `${where} needs a sample of shape [batch, ${config.inChannels}, h, w] float32, got ${sample}`,
    );
  }
  const batch = sample.shape[0];
  const width = config.crossAttentionDim;
  if (
    context.rank !== 3 ||
    context.shape[0] !== batch ||
    context.shape[2] !== width ||
    context.dtype !== 'float32'
  ) {
    throw new UserError(
      `${where} needs encoder_hidden_states of shape [${batch}, keys, ${width}] float32, got ${context}`,
    );
  }
}
