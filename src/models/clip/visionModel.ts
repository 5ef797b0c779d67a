import { UserError } from '../../errors.ts';
import {
  add,
  concat,
  conv2d,
  expand,
  layerNorm,
  linear,
  reshape,
  slice,
  transpose,
  type Value,
} from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { ClipConfig, ClipVisionConfig } from './config.ts';
import { clipEncoderLayer } from './encoderLayer.ts';

export interface ClipVisionOutputs {
  /** Encoder output [N, 1 + patches, hidden] (after `pre_layrnorm` and the layers, not post-normed). */
  lastHiddenState: Value;
  /** `post_layernorm` of the class token [N, hidden]. */
  pooled: Value;
}

/**
 * transformers' `CLIPVisionTransformer`:
 *   x = [class_embedding; patch_embedding(pixels) flattened] + position_embedding   (conv without bias)
 *   last_hidden_state = layers(pre_layrnorm(x))   (no attention mask)
 *   pooled = post_layernorm(last_hidden_state[:, 0])
 * `pixelValues` is [N, channels, image_size, image_size] float32, as CLIPImageProcessor makes it.
 * Weight names as CLIPModel saves them (`vision_model.…`, `pre_layrnorm` spelt as there).
 */
export function clipVisionModel(
  params: ParameterSource,
  config: ClipVisionConfig,
  pixelValues: Value,
): ClipVisionOutputs {
  const { hiddenSize: d, numChannels: channels, imageSize: size, patchSize: patch } = config;
  const [n] = pixelValues.shape;
  if (
    pixelValues.rank !== 4 ||
    pixelValues.dtype !== 'float32' ||
    pixelValues.shape[1] !== channels ||
    pixelValues.shape[2] !== size ||
    pixelValues.shape[3] !== size
  ) {
    throw new UserError(
      `the CLIP vision model needs pixel values [batch, ${channels}, ${size}, ${size}] float32 ` +
        `(vision_config.image_size ${size}), got ${pixelValues}`,
    );
  }
  const p = params.scope('vision_model');
  const grid = size / patch;
  const positions = grid * grid + 1;
  const patches = conv2d(
    pixelValues,
    p.get('embeddings.patch_embedding.weight', [d, channels, patch, patch]),
    undefined,
    {
      stride: patch,
    },
  );
  const patchTokens = transpose(reshape(patches, [n, d, grid * grid]), [0, 2, 1]);
  const classToken = expand(reshape(p.get('embeddings.class_embedding', [d]), [1, 1, d]), [n, 1, d]);
  const embeddings = add(
    concat([classToken, patchTokens], 1),
    p.get('embeddings.position_embedding.weight', [positions, d]),
  );
  const norm = (name: string, v: Value) =>
    layerNorm(v, p.get(`${name}.weight`, [d]), p.get(`${name}.bias`, [d]), config.layerNormEps);

  let h = norm('pre_layrnorm', embeddings);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    h = clipEncoderLayer(p.scope(`encoder.layers.${i}`), config, h);
  }
  const pooled = norm('post_layernorm', reshape(slice(h, [0], [1], [1]), [n, d]));
  return { lastHiddenState: h, pooled };
}

/** `CLIPModel.get_image_features`: the pooled class token through `visual_projection` (no bias), [N, proj]. */
export function clipImageFeatures(
  params: ParameterSource,
  config: ClipConfig,
  pixelValues: Value,
): ClipVisionOutputs & { imageEmbeds: Value } {
  const outputs = clipVisionModel(params, config.vision, pixelValues);
  const projection = params.get('visual_projection.weight', [config.projectionDim, config.vision.hiddenSize]);
  return { ...outputs, imageEmbeds: linear(outputs.pooled, projection) };
}
