/**
 * The numpy float64 routines diffusers uses to lay out timesteps and interpolate sigmas, with numpy's
 * exact semantics (banker's rounding, arange's fill rule, linspace's exact endpoint, interp's cases).
 */

/** `np.round` / `ndarray.round()`: round half to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** `np.linspace(start, stop, num)` in float64 (endpoint included). */
export function numpyLinspace(start: number, stop: number, num: number): number[] {
  if (num <= 0) return [];
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out: number[] = [];
  for (let i = 0; i < num; i++)
    out.push(step === 0 ? (i / (num - 1)) * (stop - start) + start : i * step + start);
  out[num - 1] = stop;
  return out;
}

/**
 * `np.arange(start, stop, step)` with a float step: numpy computes the first two values and fills the
 * rest as `start + i·delta` with `delta = (start + step) - start`, which can differ from `step`.
 */
export function numpyArange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  if (length === 0) return [];
  const out = [start];
  if (length === 1) return out;
  const delta = start + step - start;
  for (let i = 1; i < length; i++) out.push(start + i * delta);
  return out;
}

/** `np.interp(x, arange(len(fp)), fp)` in float64: sample points at integer positions 0..n-1. */
export function interpAtIntegerPositions(x: number, fp: ArrayLike<number>): number {
  const n = fp.length;
  if (Number.isNaN(x)) return x;
  if (x <= 0) return fp[0];
  if (x >= n - 1) return fp[n - 1];
  const j = Math.floor(x);
  if (j === x) return fp[j];
  const slope = fp[j + 1] - fp[j];
  const value = slope * (x - j) + fp[j];
  if (!Number.isNaN(value)) return value;
  // numpy retries from the right end when the left end gives NaN.
  const fromRight = slope * (x - (j + 1)) + fp[j + 1];
  return Number.isNaN(fromRight) && fp[j] === fp[j + 1] ? fp[j] : fromRight;
}

/** Order-preserving `timesteps[np.sort(np.unique(timesteps, return_index=True)[1])]`. */
export function uniqueInOrder(values: readonly number[]): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const v of values) {
    if (seen.has(v)) continue;
    seen.add(v);
    out.push(v);
  }
  return out;
}
