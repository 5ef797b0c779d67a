// A minimal host-side tensor for the reference implementations: row-major float64 data with a shape.
// Everything here is written for clarity, not speed; the tests use tiny shapes.

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function tensor(shape: readonly number[], data: ArrayLike<number>): Tensor {
  if (data.length !== sizeOf(shape)) throw new Error(`reference: ${data.length} values for [${shape}]`);
  return { shape: [...shape], data: Float64Array.from(data) };
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** The multi-index of flat position `flat` in `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    index[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return index;
}

export function ravel(index: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i] + index[i];
  return flat;
}

export function at(t: Tensor, index: readonly number[]): number {
  return t.data[ravel(index, t.shape)];
}

/** Builds a tensor of `shape` whose entry at each multi-index is `f(index)`. */
export function generate(shape: readonly number[], f: (index: number[]) => number): Tensor {
  const data = new Float64Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = f(unravel(i, shape));
  return { shape: [...shape], data };
}

/** Numpy broadcasting of shapes, as in the ONNX spec. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const da = a[i - (rank - a.length)] ?? 1;
    const db = b[i - (rank - b.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`reference: [${a}] and [${b}] do not broadcast`);
    return Math.max(da, db);
  });
}

/** Reads `t` at an index of a shape it broadcasts to. */
export function broadcastAt(t: Tensor, index: readonly number[]): number {
  const lead = index.length - t.shape.length;
  return at(
    t,
    t.shape.map((d, i) => (d === 1 ? 0 : index[lead + i])),
  );
}

export function map(t: Tensor, f: (x: number) => number): Tensor {
  return { shape: t.shape, data: t.data.map(f) };
}

export function zip(a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  return generate(broadcastShape(a.shape, b.shape), (i) => f(broadcastAt(a, i), broadcastAt(b, i)));
}

/** A seeded generator of uniform numbers (mulberry32), so inputs are the same on every run. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi) of the given shape. */
export function uniform(rng: () => number, shape: readonly number[], lo = -1, hi = 1): Tensor {
  return generate(shape, () => lo + (hi - lo) * rng());
}
