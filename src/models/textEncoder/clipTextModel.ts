import { UserError } from '../../errors.ts';
import { add, gather, layerNorm, slice, type Value } from '../../graph/index.ts';
import { clipEncoderLayer } from '../clip/encoderLayer.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { ClipTextConfig } from './config.ts';

/** torch.finfo(torch.float32).min, the value transformers fills the causal mask with. */
const FLOAT32_MIN = -3.4028234663852886e38;

/** What `clipTextHiddenStates` gives; the graph emits only what a compiled output reads. */
export interface ClipTextHiddenStates {
  /** `hidden_states[-2]`: the input of the last layer, no final LayerNorm (what SDXL conditions on). [B, S, D] */
  penultimate: Value;
  /** `last_hidden_state`: the last layer's output after `final_layer_norm`. [B, S, D] */
  lastHiddenState: Value;
}

/**
 * transformers' `CLIPTextModel(input_ids).last_hidden_state`: token + position embeddings, pre-LayerNorm
 * transformer layers with causal self-attention, the final LayerNorm. `inputIds` is [B, S] int64 with
 * S ≤ max_position_embeddings; no padding mask (Stable Diffusion passes no attention_mask, and with the causal
 * mask padding after the end token changes nothing before it). Weight names as transformers saves them
 * (`text_model.…`), the same in CLIPTextModel and CLIPModel's text tower. Result [B, S, hidden_size] float32.
 */
export function clipTextModel(params: ParameterSource, config: ClipTextConfig, inputIds: Value): Value {
  return clipTextHiddenStates(params, config, inputIds).lastHiddenState;
}

/**
 * The text tower with two of its hidden states: with `output_hidden_states=True` transformers returns
 * hidden_states[0] = the embeddings and hidden_states[k] = the output of layer k, so hidden_states[-2] is the
 * input of the last layer (the embeddings for a one-layer model).
 */
export function clipTextHiddenStates(
  params: ParameterSource,
  config: ClipTextConfig,
  inputIds: Value,
): ClipTextHiddenStates {
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
  let penultimate = h;
  for (let i = 0; i < config.numHiddenLayers; i++) {
    penultimate = h;
    h = clipEncoderLayer(p.scope(`encoder.layers.${i}`), config, h, mask);
  }
  const lastHiddenState = layerNorm(
    h,
    p.get('final_layer_norm.weight', [d]),
    p.get('final_layer_norm.bias', [d]),
    config.layerNormEps,
  );
  return { penultimate, lastHiddenState };
}

/** [S, S]: 0 on and below the diagonal, finfo.min above; added to the scores as transformers does. */
function causalMask(params: ParameterSource, length: number): Value {
  const data = new Float32Array(length * length);
  for (let row = 0; row < length; row++) {
    for (let col = row + 1; col < length; col++) data[row * length + col] = FLOAT32_MIN;
  }
  return params.graph.constant(data, [length, length]);
}
