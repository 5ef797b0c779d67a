import { UserError } from '../../errors.ts';
import { add, gather, layerNorm, slice, type Value } from '../../graph/index.ts';
import { clipEncoderLayer } from '../clip/encoderLayer.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { ClipTextConfig } from './config.ts';

/** torch.finfo(torch.float32).min, the value transformers fills the causal mask with. */
const FLOAT32_MIN = -3.4028234663852886e38;

/**
 * transformers' `CLIPTextModel(input_ids).last_hidden_state`: token + position embeddings, pre-LayerNorm
 * transformer layers with causal self-attention, the final LayerNorm. `inputIds` is [B, S] int64 with
 * S ≤ max_position_embeddings; no padding mask (Stable Diffusion passes no attention_mask, and with the causal
 * mask padding after the end token changes nothing before it). Weight names as transformers saves them
 * (`text_model.…`), the same in CLIPTextModel and CLIPModel's text tower. Result [B, S, hidden_size] float32.
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
    h = clipEncoderLayer(p.scope(`encoder.layers.${i}`), config, h, mask);
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
