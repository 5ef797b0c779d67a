import { at, broadcastAt, generate, type Tensor } from './tensor.ts';

// Ops that move entries around without arithmetic.

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  return generate(
    perm.map((p) => x.shape[p]),
    (index) => {
      const source = new Array<number>(perm.length);
      perm.forEach((p, i) => {
        source[p] = index[i];
      });
      return at(x, source);
    },
  );
}

export function concat(parts: readonly Tensor[], axis: number): Tensor {
  const a = axis < 0 ? axis + parts[0].shape.length : axis;
  const shape = [...parts[0].shape];
  shape[a] = parts.reduce((n, p) => n + p.shape[a], 0);
  return generate(shape, (index) => {
    let k = index[a];
    for (const p of parts) {
      if (k < p.shape[a])
        return at(
          p,
          index.map((v, i) => (i === a ? k : v)),
        );
      k -= p.shape[a];
    }
    throw new Error('unreachable');
  });
}

/** x[start:end:step] on each listed axis, Python semantics (negative indices, clamping), positive steps. */
export function slice(
  x: Tensor,
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[],
  steps: readonly number[],
): Tensor {
  const ranges = x.shape.map((d) => ({ start: 0, step: 1, count: d }));
  axes.forEach((axis, k) => {
    const a = axis < 0 ? axis + x.shape.length : axis;
    const d = x.shape[a];
    const clamp = (v: number) => Math.min(d, Math.max(0, v < 0 ? v + d : v));
    const start = clamp(starts[k]);
    const end = clamp(ends[k]);
    ranges[a] = { start, step: steps[k], count: Math.max(0, Math.ceil((end - start) / steps[k])) };
  });
  return generate(
    ranges.map((r) => r.count),
    (index) =>
      at(
        x,
        index.map((v, i) => ranges[i].start + v * ranges[i].step),
      ),
  );
}

/** Gather along `axis` with possibly negative indices. */
export function gather(x: Tensor, indices: readonly number[], axis: number): Tensor {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const shape = [...x.shape];
  shape[a] = indices.length;
  return generate(shape, (index) => {
    const k = indices[index[a]];
    return at(
      x,
      index.map((v, i) => (i === a ? (k < 0 ? k + x.shape[a] : k) : v)),
    );
  });
}

/** Constant padding; negative pads crop. */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  const shape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
  return generate(shape, (index) => {
    const source = index.map((v, i) => v - pads[i][0]);
    return source.every((v, i) => v >= 0 && v < x.shape[i]) ? at(x, source) : value;
  });
}

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  return generate(shape, (index) => broadcastAt(x, index));
}

/** Nearest upsampling of the last two axes by an integer factor. */
export function upsampleNearest(x: Tensor, scale: number): Tensor {
  const [n, c, h, w] = x.shape;
  return generate([n, c, h * scale, w * scale], ([b, ch, y, xx]) =>
    at(x, [b, ch, Math.floor(y / scale), Math.floor(xx / scale)]),
  );
}
