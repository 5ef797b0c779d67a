import { add, gather, linear, reshape, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { clipTextModel } from '../textEncoder/clipTextModel.ts';
import type { ClipConfig } from './config.ts';

/** The legacy eos_token_id of the openai configs, with which transformers pools at argmax(input_ids). */
const LEGACY_EOS_TOKEN_ID = 2;

export interface ClipTextOutputs {
  /** After `final_layer_norm`, [N, S, hidden]. */
  lastHiddenState: Value;
  /** last_hidden_state at each row's pooled position, [N, hidden]. */
  pooled: Value;
  /** `text_projection` of the pooled state (no bias), [N, proj]. */
  textEmbeds: Value;
}

/**
 * `CLIPModel.get_text_features`: the text tower (shared with Stable Diffusion's CLIPTextModel), the hidden state at
 * each row's first end-of-text token, `text_projection`. `pooledIndex` [N] int64 holds those positions
 * (`pooledTokenIndex`); the graph cannot find them itself without an argmax op, and the caller has the ids anyway.
 */
export function clipTextFeatures(
  params: ParameterSource,
  config: ClipConfig,
  inputIds: Value,
  pooledIndex: Value,
): ClipTextOutputs {
  const [n, length] = inputIds.shape;
  const d = config.text.hiddenSize;
  const lastHiddenState = clipTextModel(params, config.text, inputIds);
  // Row r's position i is row r·length + i of the flattened states.
  const rowStarts = params.graph.constant(
    Array.from({ length: n }, (_, r) => r * length),
    [n],
    'int64',
  );
  const pooled = gather(reshape(lastHiddenState, [n * length, d]), add(pooledIndex, rowStarts), 0);
  const projection = params.get('text_projection.weight', [config.projectionDim, d]);
  return { lastHiddenState, pooled, textEmbeds: linear(pooled, projection) };
}

/**
 * Where transformers' CLIPTextTransformer pools one row of ids: configs with the legacy eos_token_id 2 take
 * `argmax(input_ids)` (the first occurrence of the largest id, which is `<|endoftext|>` = 49407 in CLIP's vocabulary);
 * other configs `(input_ids == eos_token_id).int().argmax()`, its first position (0 when the row has none, as
 * argmax of all zeros is 0).
 */
export function pooledTokenIndex(ids: ArrayLike<number | bigint>, eosTokenId: number): number {
  let best = 0;
  if (eosTokenId === LEGACY_EOS_TOKEN_ID) {
    for (let i = 1; i < ids.length; i++) if (Number(ids[i]) > Number(ids[best])) best = i;
    return best;
  }
  for (let i = 0; i < ids.length; i++) if (Number(ids[i]) === eosTokenId) return i;
  return best;
}
