import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { chunkedAttentionGrad } from './chunkedAttentionGrad.ts';
import { mul } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { reshape } from './reshape.ts';
import { softmax } from './softmax.ts';
import { transpose } from './transpose.ts';

interface MhaAttrs {
  readonly heads: number;
  readonly scale: number;
  /** Query rows per chunk when the gradient recomputes the probabilities (not part of the ONNX node). */
  readonly queryChunk: number;
}

/** 1024 queries keep one recomputed chunk of a 64×64 self-attention at 8·1024·4096 floats (128 MiB). */
export const DEFAULT_QUERY_CHUNK = 1024;

/**
 * softmax(q·kᵀ·scale)·v per head on [B, N, H·d] projections, as ONNX Runtime's contrib `MultiHeadAttention`
 * (domain com.microsoft): one kernel that splits and merges heads itself and never stores the probabilities.
 * Its gradient recomputes the probabilities in query chunks (`chunkedAttentionGrad`), so a guidance graph can
 * run these layers forward fused and backward without ever holding [B, H, N, L] at once.
 */
const MultiHeadAttention: OpDef<MhaAttrs> = {
  name: 'MultiHeadAttention',
  infer([q, k, v], { heads }) {
    if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3) throw new GraphError('needs [B, N, D] q, k and v');
    if (q.dtype !== 'float32' || k.dtype !== 'float32' || v.dtype !== 'float32') {
      throw new GraphError('ONNX Runtime runs it on the CPU in float32 only');
    }
    const [b, , dim] = q.shape;
    if (k.shape[0] !== b || v.shape[0] !== b || k.shape[2] !== dim || v.shape[2] !== dim) {
      throw new GraphError('q, k and v must share batch and width');
    }
    if (k.shape[1] !== v.shape[1]) throw new GraphError('k and v must have as many keys');
    if (dim % heads !== 0) throw new GraphError(`width ${dim} is not a multiple of ${heads} heads`);
    return [{ shape: q.shape, dtype: q.dtype }];
  },
  emit(e, inputs, outputs, { heads, scale }) {
    e.node(
      'MultiHeadAttention',
      inputs,
      outputs,
      { num_heads: heads, scale: { float: scale } },
      'com.microsoft',
    );
  },
  vjp(node, [g], needed) {
    if (!g) return [null, null, null];
    const [q, k, v] = node.inputs;
    return chunkedAttentionGrad(q, k, v, node.outputs[0], g, needed, node.attrs);
  },
};

/** The same attention with plain ops: [B, N, H·d] → heads → softmax(q·kᵀ·scale)·v → [B, N, H·d]. */
export function plainAttention(
  q: Value,
  k: Value,
  v: Value,
  { heads, scale }: { heads: number; scale: number },
): Value {
  const [batch, queries, dim] = q.shape;
  const split = (x: Value) => transpose(reshape(x, [batch, x.shape[1], heads, dim / heads]), [0, 2, 1, 3]);
  const probs = softmax(mul(matmul(split(q), transpose(split(k), [0, 1, 3, 2])), scale), -1);
  return reshape(transpose(matmul(probs, split(v)), [0, 2, 1, 3]), [batch, queries, dim]);
}

/** Fused multi-head attention of [B, N, H·d] query and [B, L, H·d] key/value projections. */
export function multiHeadAttention(
  q: Value,
  k: Value,
  v: Value,
  heads: number,
  scale: number,
  queryChunk = DEFAULT_QUERY_CHUNK,
): Value {
  if (!(Number.isInteger(queryChunk) && queryChunk > 0)) {
    throw new GraphError(`MultiHeadAttention: query chunk ${queryChunk} must be a positive integer`);
  }
  return apply(MultiHeadAttention, [q, k, v], { heads, scale, queryChunk })[0];
}
