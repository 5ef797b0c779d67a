// Small vector arithmetic for embeddings, in float64 (the references compute in float32; the difference is ~1e-8).

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`vectors differ in length: ${a.length} and ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** v / ‖v‖₂ (PyTorch's `v / v.norm(dim=-1, keepdim=True)`: a zero vector gives NaNs there, an error here). */
export function normalize(v: ArrayLike<number>): Float64Array {
  const norm = Math.sqrt(dot(v, v));
  if (norm === 0) throw new RangeError('cannot normalise a zero vector');
  return Float64Array.from(v, (x) => x / norm);
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return dot(normalize(a), normalize(b));
}

/** The mean of the normalised vectors, renormalised: CLIP's zero-shot class embedding from template embeddings. */
export function meanDirection(vectors: readonly ArrayLike<number>[]): Float64Array {
  if (vectors.length === 0) throw new RangeError('the mean of no vectors is undefined');
  const mean = new Float64Array(vectors[0].length);
  for (const v of vectors) {
    const unit = normalize(v);
    for (let i = 0; i < mean.length; i++) mean[i] += unit[i] / vectors.length;
  }
  return normalize(mean);
}
