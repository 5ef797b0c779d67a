import { UserError } from '../../errors.ts';
import { ConfigReader } from '../configValues.ts';
import { CLIP_ACTIVATIONS, type ClipTextConfig, parseClipTextConfig } from '../textEncoder/config.ts';
import type { ClipEncoderConfig } from './encoderLayer.ts';

/** CLIPModel's text tower: what shapes `CLIPTextModel`, plus the special ids its pooling reads. */
export interface ClipModelTextConfig extends ClipTextConfig {
  bosTokenId: number;
  /** Pooling: 2 (the legacy value of the openai configs) means "argmax of input_ids", else its first position. */
  eosTokenId: number;
  padTokenId: number;
}

/** transformers' `CLIPVisionConfig`. */
export interface ClipVisionConfig extends ClipEncoderConfig {
  numHiddenLayers: number;
  numChannels: number;
  /** Side of the square input in pixels; the position embedding has (imageSize / patchSize)² + 1 rows. */
  imageSize: number;
  patchSize: number;
}

/** transformers' `CLIPConfig`, with every value the file omits set to the class default (transformers 4.33). */
export interface ClipConfig {
  text: ClipModelTextConfig;
  vision: ClipVisionConfig;
  /** Width of the joint embedding (text_projection and visual_projection rows). */
  projectionDim: number;
  /** Only the initial value: the trained `logit_scale` is a weight (ln 100 in the openai checkpoints). */
  logitScaleInitValue: number;
}

/**
 * Reads a CLIPModel config.json. transformers' `to_diff_dict` leaves out every value equal to the class default,
 * so absent keys take CLIPTextConfig's / CLIPVisionConfig's defaults; a `text_config_dict` /
 * `vision_config_dict` (older hub files) overrides `text_config` / `vision_config` as in CLIPConfig.__init__.
 */
export function parseClipConfig(path: string, raw: Record<string, unknown>): ClipConfig {
  const c = new ConfigReader(path, raw);
  if (!c.strings('architectures', ['CLIPModel']).includes('CLIPModel')) {
    throw c.unsupported('architectures', 'expected a CLIPModel checkpoint (openai/clip-vit-…)');
  }
  if (raw['model_type'] !== undefined && raw['model_type'] !== 'clip') {
    throw c.unsupported('model_type', 'expected "clip"');
  }
  const textRaw = tower(path, raw, 'text_config');
  const textPath = `${path} (text_config)`;
  const ids = new ConfigReader(textPath, textRaw);
  const text: ClipModelTextConfig = {
    ...parseClipTextConfig(textPath, textRaw),
    bosTokenId: tokenId(ids, 'bos_token_id', 49406),
    eosTokenId: tokenId(ids, 'eos_token_id', 49407),
    padTokenId: tokenId(ids, 'pad_token_id', 1),
  };
  return {
    text,
    vision: parseClipVisionConfig(`${path} (vision_config)`, tower(path, raw, 'vision_config')),
    projectionDim: c.positiveInt('projection_dim', 512),
    logitScaleInitValue: finiteNumber(c, 'logit_scale_init_value', 2.6592),
  };
}

function parseClipVisionConfig(path: string, raw: Record<string, unknown>): ClipVisionConfig {
  const c = new ConfigReader(path, raw);
  if (raw['model_type'] !== undefined && raw['model_type'] !== 'clip_vision_model') {
    throw c.unsupported('model_type', 'expected "clip_vision_model"');
  }
  const config: ClipVisionConfig = {
    hiddenSize: c.positiveInt('hidden_size', 768),
    intermediateSize: c.positiveInt('intermediate_size', 3072),
    numHiddenLayers: c.positiveInt('num_hidden_layers', 12),
    numAttentionHeads: c.positiveInt('num_attention_heads', 12),
    numChannels: c.positiveInt('num_channels', 3),
    imageSize: c.positiveInt('image_size', 224),
    patchSize: c.positiveInt('patch_size', 32),
    hiddenAct: c.oneOf('hidden_act', 'quick_gelu', CLIP_ACTIVATIONS),
    layerNormEps: c.positiveNumber('layer_norm_eps', 1e-5),
  };
  c.headsDivide(config.hiddenSize, config.numAttentionHeads);
  if (config.imageSize % config.patchSize !== 0) {
    throw c.unsupported('patch_size', `image_size ${config.imageSize} must be a multiple of the patch size`);
  }
  return config;
}

/** `text_config` / `vision_config` merged with the legacy `…_dict` of the same tower, which wins. */
function tower(path: string, raw: Record<string, unknown>, key: string): Record<string, unknown> {
  const object = (name: string): Record<string, unknown> => {
    const value = raw[name];
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new UserError(`${path}: "${name}" must be an object of ${key.replace('_config', '')} settings`);
    }
    return value as Record<string, unknown>;
  };
  return { ...object(key), ...object(`${key}_dict`) };
}

/** Special token ids may be 0 (the legacy bos), which ConfigReader's positiveInt refuses. */
function tokenId(c: ConfigReader, key: string, fallback: number): number {
  const value = c.raw[key] ?? fallback;
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0)) {
    throw c.unsupported(key, 'expected a token id (an integer ≥ 0)');
  }
  return value;
}

function finiteNumber(c: ConfigReader, key: string, fallback: number): number {
  const value = c.raw[key] ?? fallback;
  if (!(typeof value === 'number' && Number.isFinite(value))) throw c.unsupported(key, 'expected a number');
  return value;
}
