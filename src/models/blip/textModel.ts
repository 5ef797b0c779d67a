import {
  add,
  concat,
  div,
  gather,
  layerNorm,
  linear,
  matmul,
  reshape,
  slice,
  softmax,
  transpose,
  transposeLast2,
  type Value,
} from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { blipActivation } from './activation.ts';
import type { BlipTextConfig } from './config.ts';

/** Keys and values of one attention layer, [B, heads, S, head_dim]. */
export interface KeysValues {
  readonly keys: Value;
  readonly values: Value;
}

/** What a text layer's self-attention sees besides its input. */
export interface SelfAttentionInputs {
  /** Additive mask broadcast to the scores [B, heads, L, S] (0 = attend; −10000 as transformers masks). */
  readonly mask: Value;
  /** Keys and values of earlier positions (a decoder's cache), placed before this input's own. */
  readonly past?: KeysValues;
}

/** What a text layer's cross-attention reads: the encoder states' keys and values, and an optional mask. */
export interface CrossAttentionInputs {
  readonly keysValues: KeysValues;
  /** Additive mask broadcast to the scores (finfo.min on masked encoder positions), none = all ones. */
  readonly mask?: Value;
}

/** −10000, the value transformers' `get_extended_attention_mask` puts on masked self-attention entries. */
export const SELF_ATTENTION_MASKED = -10000;
/** torch.finfo(float32).min, what `invert_attention_mask` puts on masked cross-attention entries. */
export const CROSS_ATTENTION_MASKED = -3.4028234663852886e38;

/**
 * BlipTextEmbeddings: LayerNorm(word_embeddings(ids) + position_embeddings(positions)); no token types.
 * `positions` is either the first position of a run of L tokens (a number) or an int64 value [1] fed at run
 * time (a decoder step).
 */
export function textEmbeddings(
  p: ParameterSource,
  config: BlipTextConfig,
  inputIds: Value,
  positions: number | Value,
): Value {
  const d = config.hiddenSize;
  const length = inputIds.shape[1];
  const words = gather(p.get('word_embeddings.weight', [config.vocabSize, d]), inputIds, 0);
  const table = p.get('position_embeddings.weight', [config.maxPositionEmbeddings, d]);
  const position =
    typeof positions === 'number'
      ? slice(table, [positions], [positions + length], [0])
      : gather(table, positions, 0);
  return layerNorm(
    add(words, position),
    p.get('LayerNorm.weight', [d]),
    p.get('LayerNorm.bias', [d]),
    config.layerNormEps,
  );
}

/** [B, S, heads·head_dim] → [B, heads, S, head_dim]. */
function splitHeads(x: Value, heads: number): Value {
  const [batch, length, width] = x.shape;
  return transpose(reshape(x, [batch, length, heads, width / heads]), [0, 2, 1, 3]);
}

/**
 * The keys and values a layer's cross-attention computes from encoder states [B, T, encoder_hidden_size]:
 * `crossattention.self.key/value`, projecting encoder_hidden_size → hidden_size. They depend only on the
 * encoder states, so a decoder computes them once per image instead of once per token.
 */
export function crossKeysValues(
  layer: ParameterSource,
  config: BlipTextConfig,
  encoderStates: Value,
): KeysValues {
  const p = layer.scope('crossattention.self');
  const d = config.hiddenSize;
  const e = config.encoderHiddenSize;
  const project = (name: string) =>
    splitHeads(
      linear(encoderStates, p.get(`${name}.weight`, [d, e]), p.get(`${name}.bias`, [d])),
      config.numAttentionHeads,
    );
  return { keys: project('key'), values: project('value') };
}

/**
 * BlipTextSelfAttention's core: scores = q·kᵀ / √head_dim + mask, softmax, probs·v, heads merged back
 * to [B, L, hidden_size].
 */
function attend(query: Value, { keys, values }: KeysValues, mask: Value | undefined, heads: number): Value {
  const [batch, length, d] = query.shape;
  const q = splitHeads(query, heads);
  let scores = div(matmul(q, transposeLast2(keys)), Math.sqrt(d / heads));
  if (mask) scores = add(scores, mask);
  const context = matmul(softmax(scores, -1), values);
  return reshape(transpose(context, [0, 2, 1, 3]), [batch, length, d]);
}

/** BlipTextSelfOutput: LayerNorm(dense(x) + residual). */
function selfOutput(p: ParameterSource, config: BlipTextConfig, x: Value, residual: Value): Value {
  const d = config.hiddenSize;
  return layerNorm(
    add(linear(x, p.get('dense.weight', [d, d]), p.get('dense.bias', [d])), residual),
    p.get('LayerNorm.weight', [d]),
    p.get('LayerNorm.bias', [d]),
    config.layerNormEps,
  );
}

/** A text layer's output and the keys/values its self-attention computed for its own L positions. */
export interface TextLayerOutput {
  readonly hidden: Value;
  readonly own: KeysValues;
}

/**
 * BlipTextLayer (post-LayerNorm BERT layer with cross-attention):
 *
 *   a = LayerNorm(dense(self_attention(x)) + x)
 *   c = LayerNorm(dense(cross_attention(a, encoder)) + a)
 *   out = LayerNorm(output.dense(act(intermediate.dense(c))) + c)
 */
export function textLayer(
  p: ParameterSource,
  config: BlipTextConfig,
  x: Value,
  self: SelfAttentionInputs,
  cross: CrossAttentionInputs,
): TextLayerOutput {
  const d = config.hiddenSize;
  const heads = config.numAttentionHeads;
  const s = p.scope('attention.self');
  const project = (name: string) => linear(x, s.get(`${name}.weight`, [d, d]), s.get(`${name}.bias`, [d]));
  const own = { keys: splitHeads(project('key'), heads), values: splitHeads(project('value'), heads) };
  const all = self.past
    ? { keys: concat([self.past.keys, own.keys], 2), values: concat([self.past.values, own.values], 2) }
    : own;
  const attended = selfOutput(
    p.scope('attention.output'),
    config,
    attend(project('query'), all, self.mask, heads),
    x,
  );

  const c = p.scope('crossattention');
  const crossQuery = linear(attended, c.get('self.query.weight', [d, d]), c.get('self.query.bias', [d]));
  const crossed = selfOutput(
    c.scope('output'),
    config,
    attend(crossQuery, cross.keysValues, cross.mask, heads),
    attended,
  );

  const inner = config.intermediateSize;
  const up = linear(
    crossed,
    p.get('intermediate.dense.weight', [inner, d]),
    p.get('intermediate.dense.bias', [inner]),
  );
  const down = linear(
    blipActivation(config.hiddenAct, up),
    p.get('output.dense.weight', [d, inner]),
    p.get('output.dense.bias', [d]),
  );
  const hidden = layerNorm(
    add(down, crossed),
    p.get('output.LayerNorm.weight', [d]),
    p.get('output.LayerNorm.bias', [d]),
    config.layerNormEps,
  );
  return { hidden, own };
}

/**
 * transformers' `BlipTextModel(input_ids, attention_mask, encoder_hidden_states).last_hidden_state` over a
 * whole sequence: `p` is the model's scope (`text_encoder` for VQA's question encoder, `text_decoder.bert`
 * for a decoder), `selfMask` the additive mask (padding for the encoder, causal + padding for a decoder),
 * `encoderStates` [B or 1, T, encoder_hidden_size].
 */
export function blipTextModel(
  p: ParameterSource,
  config: BlipTextConfig,
  inputIds: Value,
  selfMask: Value,
  encoderStates: Value,
  crossMask?: Value,
): Value {
  let h = textEmbeddings(p.scope('embeddings'), config, inputIds, 0);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const layer = p.scope(`encoder.layer.${i}`);
    const keysValues = crossKeysValues(layer, config, encoderStates);
    h = textLayer(layer, config, h, { mask: selfMask }, { keysValues, mask: crossMask }).hidden;
  }
  return h;
}

/**
 * BlipTextLMPredictionHead: logits = decoder(LayerNorm(act(transform.dense(h)))) + bias, with the
 * decoder's own weight `cls.predictions.decoder.weight` (transformers 4.33 does not tie it to the word
 * embeddings) and the bias `cls.predictions.bias`. `p` is the `text_decoder.cls.predictions` scope.
 */
export function lmHead(p: ParameterSource, config: BlipTextConfig, hidden: Value): Value {
  const d = config.hiddenSize;
  const t = p.scope('transform');
  const transformed = layerNorm(
    blipActivation(config.hiddenAct, linear(hidden, t.get('dense.weight', [d, d]), t.get('dense.bias', [d]))),
    t.get('LayerNorm.weight', [d]),
    t.get('LayerNorm.bias', [d]),
    config.layerNormEps,
  );
  return linear(
    transformed,
    p.get('decoder.weight', [config.vocabSize, d]),
    p.get('bias', [config.vocabSize]),
  );
}
