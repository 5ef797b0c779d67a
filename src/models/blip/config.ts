import { UserError } from '../../errors.ts';
import { ConfigReader } from '../configValues.ts';

/** The MLP activations BLIP checkpoints use; transformers' `gelu` is the exact (erf) one. */
export const BLIP_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'quick_gelu'] as const;
export type BlipActivation = (typeof BLIP_ACTIVATIONS)[number];

/** The BLIP heads this implementation runs. */
export const BLIP_ARCHITECTURES = ['BlipForConditionalGeneration', 'BlipForQuestionAnswering'] as const;
export type BlipArchitecture = (typeof BLIP_ARCHITECTURES)[number];

/** transformers 4.33's `BlipTextConfig`, the part that shapes the BERT-style text encoder and decoder. */
export interface BlipTextConfig {
  vocabSize: number;
  hiddenSize: number;
  /** Width of the states the cross-attention reads (the vision hidden size); K/V project from it. */
  encoderHiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  hiddenAct: BlipActivation;
  layerNormEps: number;
  /** [DEC] = 30522: the decoder's first token. */
  bosTokenId: number;
  /** 2 by default and unused: BLIP's generate stops at sep_token_id. */
  eosTokenId: number;
  padTokenId: number;
  /** [SEP] = 102: where generation stops. */
  sepTokenId: number;
}

/** transformers 4.33's `BlipVisionConfig`. */
export interface BlipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  imageSize: number;
  patchSize: number;
  hiddenAct: BlipActivation;
  layerNormEps: number;
}

export interface BlipConfig {
  architecture: BlipArchitecture;
  text: BlipTextConfig;
  vision: BlipVisionConfig;
}

/** Tokens of the vision encoder: one per patch plus the class token. */
export function visionTokens(config: BlipVisionConfig): number {
  return (config.imageSize / config.patchSize) ** 2 + 1;
}

/**
 * Reads a BLIP config.json. transformers writes only the values that differ from the class defaults
 * (`to_diff_dict`), so every absent key takes transformers 4.33's default: note BlipTextConfig's
 * `num_attention_heads` is 8, not the 12 of the real checkpoints (whose configs say 12 explicitly).
 */
export function parseBlipConfig(path: string, raw: Record<string, unknown>): BlipConfig {
  const top = new ConfigReader(path, raw);
  if (raw.model_type !== undefined && raw.model_type !== 'blip') {
    throw top.unsupported('model_type', 'expected "blip"');
  }
  const architectures = top.strings('architectures', []);
  const architecture = BLIP_ARCHITECTURES.find((a) => architectures.includes(a));
  if (!architecture) {
    throw top.unsupported('architectures', `a BLIP model for ${BLIP_ARCHITECTURES.join(' or ')}`);
  }
  const vision = parseVisionConfig(path, section(path, raw, 'vision_config'));
  const text = parseTextConfig(path, section(path, raw, 'text_config'));
  return { architecture, text, vision };
}

function section(path: string, raw: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = raw[key] ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UserError(`${path}: "${key}" must be an object of settings`);
  }
  return value as Record<string, unknown>;
}

function parseTextConfig(path: string, raw: Record<string, unknown>): BlipTextConfig {
  const c = new ConfigReader(`${path} (text_config)`, raw);
  const config: BlipTextConfig = {
    vocabSize: c.positiveInt('vocab_size', 30524),
    hiddenSize: c.positiveInt('hidden_size', 768),
    encoderHiddenSize: c.positiveInt('encoder_hidden_size', 768),
    intermediateSize: c.positiveInt('intermediate_size', 3072),
    numHiddenLayers: c.positiveInt('num_hidden_layers', 12),
    numAttentionHeads: c.positiveInt('num_attention_heads', 8),
    maxPositionEmbeddings: c.positiveInt('max_position_embeddings', 512),
    hiddenAct: c.oneOf('hidden_act', 'gelu', BLIP_ACTIVATIONS),
    layerNormEps: c.positiveNumber('layer_norm_eps', 1e-12),
    bosTokenId: tokenId(c, 'bos_token_id', 30522),
    eosTokenId: tokenId(c, 'eos_token_id', 2),
    padTokenId: tokenId(c, 'pad_token_id', 0),
    sepTokenId: tokenId(c, 'sep_token_id', 102),
  };
  c.headsDivide(config.hiddenSize, config.numAttentionHeads);
  const ids = {
    bos_token_id: config.bosTokenId,
    pad_token_id: config.padTokenId,
    sep_token_id: config.sepTokenId,
  };
  for (const [key, id] of Object.entries(ids)) {
    if (id >= config.vocabSize) throw c.unsupported(key, `an id below vocab_size ${config.vocabSize}`);
  }
  return config;
}

function parseVisionConfig(path: string, raw: Record<string, unknown>): BlipVisionConfig {
  const c = new ConfigReader(`${path} (vision_config)`, raw);
  const config: BlipVisionConfig = {
    hiddenSize: c.positiveInt('hidden_size', 768),
    intermediateSize: c.positiveInt('intermediate_size', 3072),
    numHiddenLayers: c.positiveInt('num_hidden_layers', 12),
    numAttentionHeads: c.positiveInt('num_attention_heads', 12),
    imageSize: c.positiveInt('image_size', 384),
    patchSize: c.positiveInt('patch_size', 16),
    hiddenAct: c.oneOf('hidden_act', 'gelu', BLIP_ACTIVATIONS),
    layerNormEps: c.positiveNumber('layer_norm_eps', 1e-5),
  };
  c.headsDivide(config.hiddenSize, config.numAttentionHeads);
  if (config.imageSize % config.patchSize !== 0) {
    throw c.unsupported('patch_size', `image_size ${config.imageSize} must be a multiple of it`);
  }
  return config;
}

function tokenId(c: ConfigReader, key: string, fallback: number): number {
  const value = c.raw[key] ?? fallback;
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0)) {
    throw c.unsupported(key, 'expected a token id (a non-negative integer)');
  }
  return value;
}
