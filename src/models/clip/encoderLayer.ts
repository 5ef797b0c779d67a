import {
  add,
  erf,
  layerNorm,
  linear,
  matmul,
  mul,
  pow,
  reshape,
  sigmoid,
  softmax,
  tanh,
  transpose,
  transposeLast2,
  type Value,
} from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { ClipActivation } from '../textEncoder/config.ts';

/** What one CLIP encoder layer needs of a tower's config: CLIPTextConfig and CLIPVisionConfig both have it. */
export interface ClipEncoderConfig {
  hiddenSize: number;
  intermediateSize: number;
  numAttentionHeads: number;
  hiddenAct: ClipActivation;
  layerNormEps: number;
}

/**
 * transformers' `CLIPEncoderLayer`, shared by the text tower (causal mask) and the vision tower (no mask):
 *   h = x + self_attn(layer_norm1(x));  out = h + fc2(act(fc1(layer_norm2(h)))).
 * `p` is scoped to `…encoder.layers.{i}`; `mask` is added to the attention scores ([S, S]) when given.
 */
export function clipEncoderLayer(
  p: ParameterSource,
  config: ClipEncoderConfig,
  x: Value,
  mask?: Value,
): Value {
  const d = config.hiddenSize;
  const norm = (name: string, v: Value) =>
    layerNorm(v, p.get(`${name}.weight`, [d]), p.get(`${name}.bias`, [d]), config.layerNormEps);
  let h = add(x, selfAttention(p.scope('self_attn'), config, norm('layer_norm1', x), mask));
  const mlp = p.scope('mlp');
  const inner = config.intermediateSize;
  const up = linear(norm('layer_norm2', h), mlp.get('fc1.weight', [inner, d]), mlp.get('fc1.bias', [inner]));
  h = add(
    h,
    linear(clipActivation(config.hiddenAct, up), mlp.get('fc2.weight', [d, inner]), mlp.get('fc2.bias', [d])),
  );
  return h;
}

/**
 * CLIPAttention in transformers' float32 op order: q = q_proj(x)·head_dim^-0.5, scores = q·kᵀ (+ mask),
 * softmax in float32 (masked entries become exactly 0: exp(finfo.min − max) underflows), probs·v, out_proj.
 */
function selfAttention(p: ParameterSource, config: ClipEncoderConfig, x: Value, mask?: Value): Value {
  const [batch, length, d] = x.shape;
  const heads = config.numAttentionHeads;
  const headDim = d / heads;
  const project = (name: string) => linear(x, p.get(`${name}.weight`, [d, d]), p.get(`${name}.bias`, [d]));
  const splitHeads = (v: Value) => transpose(reshape(v, [batch, length, heads, headDim]), [0, 2, 1, 3]);
  const q = splitHeads(mul(project('q_proj'), headDim ** -0.5));
  const k = splitHeads(project('k_proj'));
  const v = splitHeads(project('v_proj'));
  const scores = matmul(q, transposeLast2(k));
  const probs = softmax(mask ? add(scores, mask) : scores, -1);
  const merged = reshape(transpose(matmul(probs, v), [0, 2, 1, 3]), [batch, length, d]);
  return linear(merged, p.get('out_proj.weight', [d, d]), p.get('out_proj.bias', [d]));
}

/** transformers' ACT2FN entries, in PyTorch's op order. */
export function clipActivation(name: ClipActivation, x: Value): Value {
  switch (name) {
    case 'quick_gelu':
      return mul(x, sigmoid(mul(x, 1.702)));
    case 'gelu':
      // nn.functional.gelu (exact): x·0.5·(1 + erf(x/√2)).
      return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
      return mul(mul(x, 0.5), add(tanh(inner), 1));
    }
  }
}
