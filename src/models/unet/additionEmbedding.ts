import { UserError } from '../../errors.ts';
import { cast, concat, type DType, reshape, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { TEXT_TIME_IDS, type TextTimeAddition, type UNetConfig } from './config.ts';
import { sinusoidalEmbedding, timestepMlp } from './timestepEmbedding.ts';

/** SDXL's conditioning beyond the text embeddings (diffusers' `added_cond_kwargs`). */
export interface TextTimeInputs {
  /** The pooled text embedding [B, pooledDim] float32 (`text_embeds`). */
  textEmbeds: Value;
  /** [orig_h, orig_w, crop_top, crop_left, target_h, target_w] per sample: [B, 6] float32 (`time_ids`). */
  timeIds: Value;
}

/**
 * diffusers' `text_time` addition embedding (UNet2DConditionModel.get_aug_embed, 0.21.4), [B, time_embed_dim]:
 *   time_embeds = Timesteps(d, flip_sin_to_cos, freq_shift)(time_ids.flatten()).reshape(B, 6·d)
 *   aug_emb = add_embedding(cat([text_embeds, time_embeds], −1).to(dtype))   (Linear, SiLU, Linear)
 * The sinusoids are the timestep's, in float32; the result is added to the time embedding.
 */
export function textTimeEmbedding(
  p: ParameterSource,
  config: UNetConfig,
  addition: TextTimeAddition,
  { textEmbeds, timeIds }: TextTimeInputs,
  dtype: DType,
): Value {
  const batch = textEmbeds.shape[0];
  const perId = sinusoidalEmbedding(reshape(timeIds, [batch * TEXT_TIME_IDS]), addition.timeEmbedDim, config);
  const timeEmbeds = reshape(perId, [batch, TEXT_TIME_IDS * addition.timeEmbedDim]);
  const addEmbeds = concat([textEmbeds, timeEmbeds], 1);
  return timestepMlp(p.scope('add_embedding'), cast(addEmbeds, dtype), config.timeEmbedDim);
}

/**
 * The embedding the config adds to the time embedding (`aug_emb`), from inputs checked against the config and
 * the batch, or null without an addition: diffusers then ignores `added_cond_kwargs`, and so does this.
 */
export function additionEmbedding(
  p: ParameterSource,
  config: UNetConfig,
  inputs: Partial<TextTimeInputs>,
  batch: number,
  dtype: DType,
): Value | null {
  const { addition } = config;
  if (addition === null) return null;
  const need = (name: string, what: string, value: Value | undefined, shape: number[]): Value => {
    const fits =
      value?.dtype === 'float32' &&
      value.rank === shape.length &&
      value.shape.every((d, i) => d === shape[i]);
    if (!value || !fits) {
      throw new UserError(
        `the UNet (${config.path}) has addition_embed_type "text_time" and needs ${name} (${what}) of shape ` +
          `[${shape}] float32, got ${value ?? 'none'}`,
      );
    }
    return value;
  };
  const pooled = need('text_embeds', 'the pooled text embedding', inputs.textEmbeds, [
    batch,
    addition.pooledDim,
  ]);
  const ids = need('time_ids', 'original size, crop top-left, target size', inputs.timeIds, [
    batch,
    TEXT_TIME_IDS,
  ]);
  return textTimeEmbedding(p, config, addition, { textEmbeds: pooled, timeIds: ids }, dtype);
}
