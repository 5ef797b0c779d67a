import { add, gather, linear, reshape, type Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';

/**
 * transformers' `pooler_output`: `last_hidden_state[b, eos_b]` for each row b, [B, hidden]. `pooledIndex` [B] int64
 * holds each row's eos_b, found on the host from the ids (`pooledTokenIndex`): the graph has no argmax op, and
 * the caller holds the ids anyway.
 */
export function pooledAt(lastHiddenState: Value, pooledIndex: Value): Value {
  const [batch, length, hidden] = lastHiddenState.shape;
  // Row b's position i is row b·length + i of the flattened states.
  const rowStarts = lastHiddenState.graph.constant(
    Array.from({ length: batch }, (_, b) => b * length),
    [batch],
    'int64',
  );
  return gather(reshape(lastHiddenState, [batch * length, hidden]), add(pooledIndex, rowStarts), 0);
}

/**
 * `CLIPTextModelWithProjection.text_embeds` = text_projection(pooler_output): a Linear without bias,
 * [B, hidden] → [B, projection_dim].
 */
export function textProjection(params: ParameterSource, pooled: Value, projectionDim: number): Value {
  const hidden = pooled.shape[pooled.rank - 1];
  return linear(pooled, params.get('text_projection.weight', [projectionDim, hidden]));
}
