import { reshape, slice, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { BlipTextConfig } from './config.ts';
import { crossKeysValues, type KeysValues, lmHead, textEmbeddings, textLayer } from './textModel.ts';

/** Graph input and output names of the decoder graphs, shared with the runtime that feeds them. */
export const crossKeyName = (layer: number) => `cross_key.${layer}`;
export const crossValueName = (layer: number) => `cross_value.${layer}`;
export const pastKeyName = (layer: number) => `past_key.${layer}`;
export const pastValueName = (layer: number) => `past_value.${layer}`;
export const newKeyName = (layer: number) => `key.${layer}`;
export const newValueName = (layer: number) => `value.${layer}`;

/**
 * The cross-attention keys and values of every decoder layer from encoder states [B, T, encoder_hidden_size]
 * (`p` = the decoder's `bert` scope): outputs `cross_key.i` / `cross_value.i` [B, heads, T, head_dim].
 */
export function crossKeysValuesOutputs(
  p: ParameterSource,
  config: BlipTextConfig,
  encoderStates: Value,
): Record<string, Value> {
  const outputs: Record<string, Value> = {};
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const { keys, values } = crossKeysValues(p.scope(`encoder.layer.${i}`), config, encoderStates);
    outputs[crossKeyName(i)] = keys;
    outputs[crossValueName(i)] = values;
  }
  return outputs;
}

export interface DecoderStepShape {
  /** Sequences decoded together (beams, or questions). */
  batch: number;
  /** Rows of the cross-attention keys/values: 1 (one image shared by every row) or `batch`. */
  crossBatch: number;
  /** Encoder positions the cross-attention reads. */
  encoderLength: number;
  /** Cache slots: the longest sequence this graph can decode. */
  capacity: number;
}

/**
 * One decoder step with a key/value cache, as a graph of fixed shapes. Inputs: `input_ids` [B, 1] int64 (the
 * newest token of each row), `position` [1] int64, `self_mask` [1, 1, 1, capacity + 1] (0 on the cached
 * slots before `position` and on the last entry, the token itself; −10000 elsewhere, as transformers' causal
 * mask), `past_key.i` / `past_value.i` [B, heads, capacity, head_dim], `cross_key.i` / `cross_value.i`
 * [crossBatch, heads, T, head_dim], `cross_mask` [crossBatch, 1, 1, T] (0 or finfo.min). Outputs: `logits`
 * [B, vocab] and this token's `key.i` / `value.i` [B, heads, 1, head_dim], which the runtime writes into
 * slot `position` of its cache.
 *
 * Why a fixed-capacity cache and not one graph per length: every compiled graph is an ONNX Runtime session
 * holding its own copy of the decoder's weights (~0.5 GB for blip-image-captioning-base), so one graph per
 * length would need 30 sessions for a 30-token caption; full recomputation in one max-length graph costs
 * capacity × steps token passes (30 × 30 = 900 per beam) instead of 30. Attending over the unused slots
 * (masked) adds capacity·hidden multiply-adds per layer, nothing next to the layer's matrix products.
 * Measured on blip-image-captioning-base shapes (random weights, 384 px, 2 threads, a machine shared with other
 * jobs): one full forward of 3 rows × 32 tokens took 2.2 s, so full recomputation of a 3-beam 30-token caption
 * would take ~63 s (29 steps) = 25 image-encoder passes; the cached steps took 13-21 s in all (0.45-0.7 s a
 * step), the whole caption with its encoder pass 3.1-3.8 encoder passes (the encoder pass took 2.6-7.3 s
 * with the machine's load). A step reads every decoder weight once (~0.5 GB), so it is memory-bound.
 */
export function decoderStepGraph(
  decoder: ParameterSource,
  config: BlipTextConfig,
  shape: DecoderStepShape,
): Record<string, Value> {
  const graph = decoder.graph;
  const { batch, crossBatch, encoderLength, capacity } = shape;
  const heads = config.numAttentionHeads;
  const headDim = config.hiddenSize / heads;
  const inputIds = graph.input('input_ids', [batch, 1], 'int64');
  const position = graph.input('position', [1], 'int64');
  const selfMask = graph.input('self_mask', [1, 1, 1, capacity + 1]);
  const crossMask = graph.input('cross_mask', [crossBatch, 1, 1, encoderLength]);

  const bert = decoder.scope('bert');
  let h = textEmbeddings(bert.scope('embeddings'), config, inputIds, position);
  const outputs: Record<string, Value> = {};
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const past: KeysValues = {
      keys: graph.input(pastKeyName(i), [batch, heads, capacity, headDim]),
      values: graph.input(pastValueName(i), [batch, heads, capacity, headDim]),
    };
    const cross: KeysValues = {
      keys: graph.input(crossKeyName(i), [crossBatch, heads, encoderLength, headDim]),
      values: graph.input(crossValueName(i), [crossBatch, heads, encoderLength, headDim]),
    };
    const layer = textLayer(
      bert.scope(`encoder.layer.${i}`),
      config,
      h,
      { mask: selfMask, past },
      { keysValues: cross, mask: crossMask },
    );
    h = layer.hidden;
    outputs[newKeyName(i)] = layer.own.keys;
    outputs[newValueName(i)] = layer.own.values;
  }
  const logits = lmHead(decoder.scope('cls.predictions'), config, h);
  outputs.logits = reshape(slice(logits, [0], [1], [1]), [batch, config.vocabSize]);
  return outputs;
}
