import { UserError } from '../../errors.ts';
import {
  add,
  erf,
  gather,
  layerNorm,
  linear,
  matmul,
  mul,
  pow,
  reshape,
  sigmoid,
  slice,
  softmax,
  tanh,
  transpose,
  transposeLast2,
  type Value,
} from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { ClipActivation, ClipTextConfig } from './config.ts';

/** torch.finfo(torch.float32).min, the value transformers fills the causal mask with. */
const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * transformers' `CLIPTextModel(input_ids).last_hidden_state`: token + position embeddings, pre-LayerNorm
 * transformer layers with causal self-attention, the final LayerNorm. `inputIds` is [B, S] int64 with
 * S ≤ max_position_embeddings; no padding mask (Stable Diffusion passes no attention_mask). Weight names
 * as transformers saves them (`text_model.…`). Result [B, S, hidden_size] float32.
 */
export function clipTextModel(params: ParameterSource, config: ClipTextConfig, inputIds: Value): Value {
  if (inputIds.rank !== 2 || inputIds.dtype !== 'int64') {
    throw new UserError(`the text encoder needs input_ids of shape [batch, length] int64, got ${inputIds}`);
  }
  const length = inputIds.shape[1];
  if (length > config.maxPositionEmbeddings) {
    throw new UserError(
      `the text encoder takes at most ${config.maxPositionEmbeddings} tokens (max_position_embeddings), got ${length}`,
    );
  }
  const p = params.scope('text_model');
  const d = config.hiddenSize;
  const tokenTable = p.get('embeddings.token_embedding.weight', [config.vocabSize, d]);
  const positionTable = p.get('embeddings.position_embedding.weight', [config.maxPositionEmbeddings, d]);
  // position_ids = arange(length): the first `length` rows of the table.
  let h = add(gather(tokenTable, inputIds, 0), slice(positionTable, [0], [length], [0]));

  const mask = causalMask(params, length);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    h = encoderLayer(p.scope(`encoder.layers.${i}`), config, h, mask);
  }
  return layerNorm(
    h,
    p.get('final_layer_norm.weight', [d]),
    p.get('final_layer_norm.bias', [d]),
    config.layerNormEps,
  );
}

/** [S, S]: 0 on and below the diagonal, finfo.min above; added to the scores as transformers does. */
function causalMask(params: ParameterSource, length: number): Value {
  const data = new Float32Array(length * length);
  for (let row = 0; row < length; row++) {
    for (let col = row + 1; col < length; col++) data[row * length + col] = FLOAT32_MIN;
  }
  return params.graph.constant(data, [length, length]);
}

function encoderLayer(p: ParameterSource, config: ClipTextConfig, x: Value, mask: Value): Value {
  const d = config.hiddenSize;
  const norm = (name: string, v: Value) =>
    layerNorm(v, p.get(`${name}.weight`, [d]), p.get(`${name}.bias`, [d]), config.layerNormEps);
  let h = add(x, selfAttention(p.scope('self_attn'), config, norm('layer_norm1', x), mask));
  const mlp = p.scope('mlp');
  const inner = config.intermediateSize;
  const up = linear(norm('layer_norm2', h), mlp.get('fc1.weight', [inner, d]), mlp.get('fc1.bias', [inner]));
  h = add(
    h,
    linear(activation(config.hiddenAct, up), mlp.get('fc2.weight', [d, inner]), mlp.get('fc2.bias', [d])),
  );
  return h;
}

/**
 * CLIPAttention in transformers' float32 op order: q = q_proj(x)·head_dim^-0.5, scores = q·kᵀ + mask,
 * softmax in float32 (masked entries become exactly 0: exp(finfo.min − max) underflows), probs·v, out_proj.
 */
function selfAttention(p: ParameterSource, config: ClipTextConfig, x: Value, mask: Value): Value {
  const [batch, length, d] = x.shape;
  const heads = config.numAttentionHeads;
  const headDim = d / heads;
  const project = (name: string) => linear(x, p.get(`${name}.weight`, [d, d]), p.get(`${name}.bias`, [d]));
  const splitHeads = (v: Value) => transpose(reshape(v, [batch, length, heads, headDim]), [0, 2, 1, 3]);
  const q = splitHeads(mul(project('q_proj'), headDim ** -0.5));
  const k = splitHeads(project('k_proj'));
  const v = splitHeads(project('v_proj'));
  const probs = softmax(add(matmul(q, transposeLast2(k)), mask), -1);
  const merged = reshape(transpose(matmul(probs, v), [0, 2, 1, 3]), [batch, length, d]);
  return linear(merged, p.get('out_proj.weight', [d, d]), p.get('out_proj.bias', [d]));
}

/** transformers' ACT2FN entries, in PyTorch's op order. */
function activation(name: ClipActivation, x: Value): Value {
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
