import type { Value } from '../graph.ts';
import { concat } from './concat.ts';
import { add, mul, sub } from './elementwise.ts';
import { matmul, transposeLast2 } from './matmul.ts';
import { pad } from './pad.ts';
import { reduceSum } from './reduce.ts';
import { reshape } from './reshape.ts';
import { slice } from './slice.ts';
import { softmax } from './softmax.ts';
import { transpose } from './transpose.ts';

export interface ChunkedAttentionOptions {
  readonly heads: number;
  readonly scale: number;
  /** Query rows per chunk: bounds the recomputed probabilities to [B, H, queryChunk, L]. */
  readonly queryChunk: number;
}

/**
 * The input gradients of y = softmax(q·kᵀ·scale)·v ([B, N, H·d] projections, [B, L, H·d] keys and values) given
 * dy, recomputing the probabilities from q and k in query chunks instead of keeping [B, H, N, L] from the
 * forward pass. Per chunk c: P_c = softmax(q_c·kᵀ·s), dV += P_cᵀ·dy_c, dS_c = P_c ⊙ (dy_c·vᵀ − D_c),
 * dQ_c = s·dS_c·k, dK += s·dS_cᵀ·q_c, where D = rowsum(dy ⊙ y) equals rowsum(dP ⊙ P) without an N×L product.
 *
 * Each chunk's gradients are packed into one tensor and summed into one running total, so every node of chunk
 * c feeds the total's c-th addition: any depth-first or index-ordered schedule (ONNX Runtime's) then finishes
 * one chunk before it starts the next, and only one chunk's probabilities are alive at a time.
 */
export function chunkedAttentionGrad(
  q: Value,
  k: Value,
  v: Value,
  y: Value,
  dy: Value,
  needed: readonly boolean[],
  { heads, scale, queryChunk }: ChunkedAttentionOptions,
): (Value | null)[] {
  const [batch, queries, dim] = q.shape;
  const keys = k.shape[1];
  const split = (x: Value) => transpose(reshape(x, [batch, x.shape[1], heads, dim / heads]), [0, 2, 1, 3]);
  const merge = (x: Value) => reshape(transpose(x, [0, 2, 1, 3]), [batch, x.shape[2], dim]);
  const [wantQ, wantK, wantV] = needed;
  const qs = mul(split(q), scale);
  const kh = split(k);
  const vh = split(v);
  const gh = split(dy);
  const rowDot = reduceSum(mul(gh, split(y)), [3], true);
  const rows = (x: Value, start: number, end: number) => slice(x, [start], [end], [2]);

  let total: Value | null = null;
  for (let start = 0; start < queries; start += queryChunk) {
    const end = Math.min(queries, start + queryChunk);
    const qc = rows(qs, start, end);
    const gc = rows(gh, start, end);
    const probs = softmax(matmul(qc, transposeLast2(kh)), -1);
    const parts: Value[] = [];
    if (wantQ || wantK) {
      const dScores = mul(probs, sub(matmul(gc, transposeLast2(vh)), rows(rowDot, start, end)));
      if (wantQ)
        parts.push(
          pad(matmul(dScores, kh), [
            [0, 0],
            [0, 0],
            [start, queries - end],
            [0, 0],
          ]),
        );
      if (wantK) parts.push(matmul(transposeLast2(dScores), qc));
    }
    if (wantV) parts.push(matmul(transposeLast2(probs), gc));
    const packed = parts.length === 1 ? parts[0] : concat(parts, 2);
    total = total ? add(total, packed) : packed;
  }

  // Unpack [dQ rows | dK rows | dV rows] in the order they were packed.
  let offset = 0;
  const take = (want: boolean, length: number): Value | null => {
    if (!want || !total) return null;
    const part = rows(total, offset, offset + length);
    offset += length;
    return merge(part);
  };
  const dq = take(wantQ, queries);
  const dk = take(wantK, keys);
  const dv = take(wantV, keys);
  return [dq && mul(dq, scale), dk, dv];
}
