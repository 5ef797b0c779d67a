import { ConfigReader } from '../configValues.ts';

/** The MLP activations of CLIP text models: SD 1.x uses quick_gelu, SD 2.x (OpenCLIP) exact gelu. */
export const CLIP_ACTIVATIONS = ['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh'] as const;
export type ClipActivation = (typeof CLIP_ACTIVATIONS)[number];

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

/** Reads a text_encoder/config.json with transformers' defaults for keys that are absent. */
export function parseClipTextConfig(path: string, raw: Record<string, unknown>): ClipTextConfig {
  const c = new ConfigReader(path, raw);
  const architectures = c.strings('architectures', ['CLIPTextModel']);
  if (!architectures.includes('CLIPTextModel')) {
    throw c.unsupported('architectures', 'the text encoder must be a CLIPTextModel');
  }
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
