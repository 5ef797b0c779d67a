import {
  cast,
  type DType,
  linear as linearOp,
  matmul,
  mul,
  reshape,
  softmax,
  transpose,
  type Value,
} from '../../graph/index.ts';
import { multiHeadAttention } from '../../graph/ops/multiHeadAttention.ts';
import type { ParameterSource } from '../parameterSource.ts';
import { linear } from './layers.ts';

/** Where an attention layer sits in the UNet, as the attention-store code of A&E and D&B classifies it. */
export type AttentionPlace = 'down' | 'mid' | 'up';

/** An attention layer of the UNet, known before its probabilities are computed. */
export interface AttentionLayerInfo {
  /** diffusers' module name, e.g. `up_blocks.1.attentions.0.transformer_blocks.0.attn2`. */
  readonly name: string;
  readonly place: AttentionPlace;
  /** `cross` when keys and values come from the text (attn2, or attn1 with only_cross_attention). */
  readonly kind: 'self' | 'cross';
  /** The query grid [h, w]; query index n = y·w + x. */
  readonly resolution: readonly [number, number];
  readonly heads: number;
}

/** An attention layer with its probabilities, as `UNet.forward` reports it. */
export interface AttentionRecord extends AttentionLayerInfo {
  /** softmax(q·kᵀ·d^-½) over the keys: [batch, heads, h·w, keys] float32. */
  readonly probs: Value;
}

/** Which layers must expose their probabilities; the others may use a fused attention without them. */
export type MaterializeProbabilities = (layer: AttentionLayerInfo) => boolean;

/** Collects the attention records of one forward pass, in call order. */
export class AttentionProbes {
  readonly records: AttentionRecord[] = [];
  /** Every attention layer met, materialised or not, in call order. */
  readonly layers: AttentionLayerInfo[] = [];

  constructor(private readonly materialize: MaterializeProbabilities = () => true) {}

  wants(layer: AttentionLayerInfo): boolean {
    this.layers.push(layer);
    return this.materialize(layer);
  }

  record(layer: AttentionLayerInfo, probs: Value): void {
    this.records.push({ ...layer, probs: cast(probs, 'float32') });
  }
}

export interface AttentionOptions {
  heads: number;
  /** diffusers' `upcast_attention`: q·kᵀ and the softmax in float32 whatever the compute dtype. */
  upcast: boolean;
  layer: AttentionLayerInfo;
  probes: AttentionProbes;
}

/**
 * diffusers' `Attention` with `AttnProcessor` (0.21.4; what runs on PyTorch 1.13 and what the A&E/D&B stores
 * wrap): q = to_q(x), k = to_k(ctx), v = to_v(ctx) without biases, heads split batch-major,
 * P = softmax(baddbmm(·, q, kᵀ, beta=0, alpha=d^-½)) (the scale multiplies the finished dot products), out =
 * to_out.0(P·v). `context` null is self-attention.
 */
export function attention(
  p: ParameterSource,
  x: Value,
  context: Value | null,
  options: AttentionOptions,
): Value {
  const { heads, layer, probes } = options;
  const [batch, queries, dim] = x.shape;
  const ctx = context ?? x;
  const keys = ctx.shape[1];
  const headDim = dim / heads;
  const q = linear(p.scope('to_q'), x, dim, false);
  const k = linear(p.scope('to_k'), ctx, dim, false);
  const v = linear(p.scope('to_v'), ctx, dim, false);
  const scale = headDim ** -0.5;

  let merged: Value;
  if (probes.wants(layer) || q.dtype !== 'float32') {
    // [B, N, H·d] → [B, H, N, d]: row b·H + h of diffusers' head_to_batch_dim.
    const split = (t: Value, n: number) => transpose(reshape(t, [batch, n, heads, headDim]), [0, 2, 1, 3]);
    const observe = (probs: Value) => probes.record(layer, probs);
    const out = explicitAttention(
      split(q, queries),
      split(k, keys),
      split(v, keys),
      scale,
      options.upcast,
      observe,
    );
    merged = reshape(transpose(out, [0, 2, 1, 3]), [batch, queries, dim]);
  } else {
    merged = fusedAttention(q, k, v, heads, scale);
  }
  const toOut = p.scope('to_out.0');
  return linearOp(merged, toOut.get('weight', [dim, dim]), toOut.get('bias', [dim]));
}

/** P·v with P computed and handed to `observe`: [B, H, N, d] → [B, H, N, d]. */
function explicitAttention(
  q: Value,
  k: Value,
  v: Value,
  scale: number,
  upcast: boolean,
  observe: (probs: Value) => void,
): Value {
  const dtype: DType = q.dtype;
  const [qs, ks] = upcast ? [cast(q, 'float32'), cast(k, 'float32')] : [q, k];
  const scores = mul(matmul(qs, transpose(ks, [0, 1, 3, 2])), scale);
  const probs = softmax(scores, -1);
  observe(probs);
  return matmul(cast(probs, dtype), v);
}

/**
 * Attention whose probabilities nobody reads, in float32 (where upcasting changes nothing): ONNX Runtime's
 * fused MultiHeadAttention, about twice as fast as the plain ops at 4096 queries on the CPU and without the
 * [B, H, N, N] probabilities in memory. Float16 keeps the plain path (the CPU kernel is float32 only).
 */
function fusedAttention(q: Value, k: Value, v: Value, heads: number, scale: number): Value {
  return multiHeadAttention(q, k, v, heads, scale);
}
