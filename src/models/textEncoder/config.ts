import { ConfigReader } from '../configValues.ts';

/** The MLP activations of CLIP text models: SD 1.x uses quick_gelu, SD 2.x (OpenCLIP) exact gelu. */
export const CLIP_ACTIVATIONS = ['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh'] as const;
export type ClipActivation = (typeof CLIP_ACTIVATIONS)[number];

/**
 * The transformers classes a diffusers text encoder is saved as: SD 1.x/2.x and SDXL's `text_encoder` are
 * `CLIPTextModel`, SDXL's `text_encoder_2` is `CLIPTextModelWithProjection` (the same tower plus `text_projection`).
 */
export const TEXT_ENCODER_CLASSES = ['CLIPTextModel', 'CLIPTextModelWithProjection'] as const;
export type TextEncoderClass = (typeof TEXT_ENCODER_CLASSES)[number];

/** transformers' `CLIPTextConfig`, the part that shapes `CLIPTextModel`'s last_hidden_state. */
export interface ClipTextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  /** The layers to run. SD 2.x folders save 23 of OpenCLIP's 24 (the penultimate layer's output). */
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  hiddenAct: ClipActivation;
  layerNormEps: number;
}

/** A text encoder's whole config: the tower, which class it is, and what its pooling reads. */
export interface TextEncoderConfig extends ClipTextConfig {
  architecture: TextEncoderClass;
  /** Width of `text_projection` (`projection_dim`); null for a CLIPTextModel, which has none. */
  projectionDim: number | null;
  /** Pooling: 2 (the legacy value of the openai configs) means "argmax of input_ids", else its first position. */
  eosTokenId: number;
}

/** Reads the tower part of a text_encoder/config.json with transformers' defaults for keys that are absent. */
export function parseClipTextConfig(path: string, raw: Record<string, unknown>): ClipTextConfig {
  const c = new ConfigReader(path, raw);
  architectureOf(c);
  if (raw['model_type'] !== undefined && raw['model_type'] !== 'clip_text_model') {
    throw c.unsupported('model_type', 'expected "clip_text_model"');
  }
  const config: ClipTextConfig = {
    vocabSize: c.positiveInt('vocab_size', 49408),
    hiddenSize: c.positiveInt('hidden_size', 512),
    intermediateSize: c.positiveInt('intermediate_size', 2048),
    numHiddenLayers: c.positiveInt('num_hidden_layers', 12),
    numAttentionHeads: c.positiveInt('num_attention_heads', 8),
    maxPositionEmbeddings: c.positiveInt('max_position_embeddings', 77),
    hiddenAct: c.oneOf('hidden_act', 'quick_gelu', CLIP_ACTIVATIONS),
    layerNormEps: c.positiveNumber('layer_norm_eps', 1e-5),
  };
  c.headsDivide(config.hiddenSize, config.numAttentionHeads);
  return config;
}

/**
 * Reads a text_encoder/config.json (or text_encoder_2/) whole: the tower, the class from `architectures`
 * (CLIPTextModel when absent), `projection_dim` for CLIPTextModelWithProjection and `eos_token_id`
 * (transformers 4.33's CLIPTextConfig defaults: 512, 49407).
 */
export function parseTextEncoderConfig(path: string, raw: Record<string, unknown>): TextEncoderConfig {
  const c = new ConfigReader(path, raw);
  const architecture = architectureOf(c);
  const eos = raw['eos_token_id'] ?? 49407;
  if (!(typeof eos === 'number' && Number.isInteger(eos) && eos >= 0)) {
    throw c.unsupported('eos_token_id', 'expected a token id (an integer ≥ 0)');
  }
  return {
    ...parseClipTextConfig(path, raw),
    architecture,
    projectionDim:
      architecture === 'CLIPTextModelWithProjection' ? c.positiveInt('projection_dim', 512) : null,
    eosTokenId: eos,
  };
}

function architectureOf(c: ConfigReader): TextEncoderClass {
  const architectures = c.strings('architectures', ['CLIPTextModel']);
  const known = TEXT_ENCODER_CLASSES.filter((name) => architectures.includes(name));
  if (known.length !== 1) {
    throw c.unsupported(
      'architectures',
      `the text encoder must be one of ${TEXT_ENCODER_CLASSES.join(', ')}`,
    );
  }
  return known[0];
}
