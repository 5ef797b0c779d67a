import { UserError } from '../../errors.ts';
import {
  add,
  concat,
  conv2d,
  expand,
  layerNorm,
  linear,
  matmul,
  mul,
  reshape,
  slice,
  softmax,
  squeeze,
  transpose,
  transposeLast2,
  type Value,
} from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { blipActivation } from './activation.ts';
import { type BlipVisionConfig, visionTokens } from './config.ts';

/**
 * transformers' `BlipVisionModel(pixel_values).last_hidden_state`, the image embeds BLIP's text models
 * cross-attend to:
 *
 *   x = concat(class_embedding, patch_embedding(pixels).flatten(2).transpose(1, 2)) + position_embedding
 *   for each layer: x = x + attn(layer_norm1(x)); x = x + fc2(act(fc1(layer_norm2(x))))
 *   last_hidden_state = post_layernorm(x)
 *
 * There is no LayerNorm before the layers (CLIP has one) and the patch convolution has a bias. `pixelValues`
 * is [N, 3, image_size, image_size]; the result [N, T, hidden_size] with T = (image_size / patch_size)² + 1.
 */
export function blipVisionModel(
  params: ParameterSource,
  config: BlipVisionConfig,
  pixelValues: Value,
): Value {
  const size = config.imageSize;
  const [batch, channels, height, width] = pixelValues.shape;
  if (pixelValues.rank !== 4 || channels !== 3 || height !== size || width !== size) {
    throw new UserError(
      `the BLIP vision model needs pixel values of shape [batch, 3, ${size}, ${size}], got ${pixelValues}`,
    );
  }
  const p = params.scope('vision_model');
  const d = config.hiddenSize;
  const tokens = visionTokens(config);
  const patch = config.patchSize;
  const embeddings = p.scope('embeddings');
  const patches = conv2d(
    pixelValues,
    embeddings.get('patch_embedding.weight', [d, 3, patch, patch]),
    embeddings.get('patch_embedding.bias', [d]),
    { stride: patch },
  );
  const patchTokens = transpose(reshape(patches, [batch, d, tokens - 1]), [0, 2, 1]);
  const classToken = expand(embeddings.get('class_embedding', [1, 1, d]), [batch, 1, d]);
  let h = add(concat([classToken, patchTokens], 1), embeddings.get('position_embedding', [1, tokens, d]));

  for (let i = 0; i < config.numHiddenLayers; i++) {
    h = encoderLayer(p.scope(`encoder.layers.${i}`), config, h);
  }
  return layerNorm(
    h,
    p.get('post_layernorm.weight', [d]),
    p.get('post_layernorm.bias', [d]),
    config.layerNormEps,
  );
}

function encoderLayer(p: ParameterSource, config: BlipVisionConfig, x: Value): Value {
  const d = config.hiddenSize;
  const norm = (name: string, v: Value) =>
    layerNorm(v, p.get(`${name}.weight`, [d]), p.get(`${name}.bias`, [d]), config.layerNormEps);
  const h = add(x, selfAttention(p.scope('self_attn'), config, norm('layer_norm1', x)));
  const mlp = p.scope('mlp');
  const inner = config.intermediateSize;
  const up = linear(norm('layer_norm2', h), mlp.get('fc1.weight', [inner, d]), mlp.get('fc1.bias', [inner]));
  return add(
    h,
    linear(blipActivation(config.hiddenAct, up), mlp.get('fc2.weight', [d, inner]), mlp.get('fc2.bias', [d])),
  );
}

/**
 * BlipAttention: one fused projection qkv = x·Wᵀ + b split as reshape(B, T, 3, heads, head_dim), so the
 * heads are interleaved inside each of q, k and v; scores = (q·kᵀ)·head_dim^-0.5, softmax, probs·v, projection.
 */
function selfAttention(p: ParameterSource, config: BlipVisionConfig, x: Value): Value {
  const [batch, length, d] = x.shape;
  const heads = config.numAttentionHeads;
  const headDim = d / heads;
  const qkv = linear(x, p.get('qkv.weight', [3 * d, d]), p.get('qkv.bias', [3 * d]));
  // [3, B, heads, T, head_dim]
  const split = transpose(reshape(qkv, [batch, length, 3, heads, headDim]), [2, 0, 3, 1, 4]);
  const part = (i: number) => squeeze(slice(split, [i], [i + 1], [0]), 0);
  const scores = mul(matmul(part(0), transposeLast2(part(1))), headDim ** -0.5);
  const context = matmul(softmax(scores, -1), part(2));
  const merged = reshape(transpose(context, [0, 2, 1, 3]), [batch, length, d]);
  return linear(merged, p.get('projection.weight', [d, d]), p.get('projection.bias', [d]));
}
