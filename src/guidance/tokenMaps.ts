import type { Value } from '../graph/index.ts';
import * as G from '../graph/index.ts';

/** The official code sharpens the averaged probabilities by 100 before the softmax over tokens. */
const TOKEN_SOFTMAX_SCALE = 100;

/**
 * Per-pixel softmax over tokens 1..75 of aggregated maps [h, w, 77] (the slice `1:-1` drops the start token and
 * the last padding position, and keeps the end token and the other paddings), then the columns of the tokens
 * at `positions` (official 1-based indices, start token = 0), returned as [k, h, w] (ALGORITHM.md §3.5).
 * `positions` is an int64 graph value of official indices minus one, or a list of official indices.
 */
export function tokenMaps(aggregated: Value, positions: Value | readonly number[]): Value {
  const keys = aggregated.shape[2];
  const scaled = G.mul(G.slice(aggregated, [1], [keys - 1], [2]), TOKEN_SOFTMAX_SCALE);
  const probabilities = G.softmax(scaled, 2);
  const columns = Array.isArray(positions) ? positions.map((p) => p - 1) : (positions as Value);
  return G.transpose(G.gather(probabilities, columns, 2), [2, 0, 1]);
}
