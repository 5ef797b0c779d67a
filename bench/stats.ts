/** Times of repeated runs of one measurement, in seconds. */
export interface Timing {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max − min) / median: the spread a noisy shared machine gives. */
  readonly spread: number;
  readonly runs: readonly number[];
}

export function summarize(runs: readonly number[]): Timing {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const [min, max] = [sorted[0], sorted[sorted.length - 1]];
  return { median, min, max, spread: median > 0 ? (max - min) / median : 0, runs };
}

/**
 * Runs `fn` once to warm up (ONNX Runtime allocates its arenas on the first run), then `reps` times, and
 * returns the timings. Medians, not means: other processes share the two cores.
 */
export async function time(reps: number, fn: () => Promise<unknown>, warmup = 1): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const runs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const started = performance.now();
    await fn();
    runs.push((performance.now() - started) / 1000);
  }
  return summarize(runs);
}

/** Times one call, in seconds. */
export async function once<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await fn();
  return [result, (performance.now() - started) / 1000];
}

export const formatTiming = (t: Timing) =>
  `${t.median.toFixed(2)} s (min ${t.min.toFixed(2)}, max ${t.max.toFixed(2)}, n=${t.runs.length})`;
