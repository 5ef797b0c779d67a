/**
 * The percentile bootstrap confidence interval of a mean (Efron & Tibshirani 1993, ch. 13): draw `resamples`
 * samples of size n with replacement from the n observations, take each one's mean, and report the
 * (1 − c)/2 and (1 + c)/2 quantiles of those means. The draws come from a seeded MT19937, so a report is
 * the same every time it is made from the same scores.
 *
 * Written here because no installed library does it; it is twenty lines of arithmetic.
 */
import { Mt19937 } from '../../random/mt19937.ts';

export interface BootstrapOptions {
  /** Number of resampled means (default 2000; the report needs 1000 or more). */
  resamples?: number;
  /** Coverage of the interval (default 0.95). */
  confidence?: number;
  /** Seed of the resampling generator (default 0). */
  seed?: number;
}

export interface MeanInterval {
  mean: number;
  low: number;
  high: number;
  /** Number of observations. */
  n: number;
}

/** Mean of `values` with its percentile-bootstrap interval. */
export function bootstrapMeanInterval(
  values: readonly number[],
  options: BootstrapOptions = {},
): MeanInterval {
  const resamples = options.resamples ?? 2000;
  const confidence = options.confidence ?? 0.95;
  const n = values.length;
  if (n === 0) throw new RangeError('bootstrapMeanInterval needs at least one value');
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new RangeError(`resamples ${resamples} is not >= 1`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence ${confidence} is not in (0, 1)`);
  const means = bootstrapMeans(values, resamples, options.seed ?? 0);
  means.sort();
  return {
    mean: values.reduce((a, b) => a + b, 0) / n,
    low: quantile(means, (1 - confidence) / 2),
    high: quantile(means, (1 + confidence) / 2),
    n,
  };
}

/** `resamples` means of size-n samples drawn with replacement from `values`, in draw order. */
export function bootstrapMeans(values: readonly number[], resamples: number, seed: number): Float64Array {
  const n = values.length;
  const random = new Mt19937(seed);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    // floor(u · n) for u uniform on [0, 1) in steps of 2^-32: the bias is under n / 2^32, negligible here.
    for (let i = 0; i < n; i++) sum += values[Math.floor((random.nextUint32() / 2 ** 32) * n)];
    means[r] = sum / n;
  }
  return means;
}

/** Quantile of sorted values with linear interpolation between order statistics (numpy's default, R type 7). */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const position = (sorted.length - 1) * p;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
}

export interface ChangeInterval {
  /** 100 · (Σ value − Σ base) / Σ base over all pairs: the % change of the mean. */
  change: number;
  low: number;
  high: number;
  /** Number of pairs. */
  n: number;
}

/**
 * The % change of a method's mean over a baseline's, 100 · (mean(value) − mean(base)) / mean(base), with a paired
 * percentile-bootstrap interval: pairs (the same prompt and seed, so the same starting noise) are resampled
 * together, which removes the spread the prompts and seeds share. Null when the baseline's mean is 0.
 */
export function bootstrapRelativeChange(
  base: readonly number[],
  value: readonly number[],
  options: BootstrapOptions = {},
): ChangeInterval | null {
  const resamples = options.resamples ?? 2000;
  const confidence = options.confidence ?? 0.95;
  const n = base.length;
  if (n === 0 || value.length !== n)
    throw new RangeError('bootstrapRelativeChange needs equally many pairs, ≥ 1');
  const change = (sumBase: number, sumValue: number) => (100 * (sumValue - sumBase)) / sumBase;
  const total = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  if (total(base) === 0) return null;
  const random = new Mt19937(options.seed ?? 0);
  const changes = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sumBase = 0;
    let sumValue = 0;
    for (let i = 0; i < n; i++) {
      const k = Math.floor((random.nextUint32() / 2 ** 32) * n);
      sumBase += base[k];
      sumValue += value[k];
    }
    // A resample whose baseline sums to 0 has no % change; it counts as no change rather than infinity.
    changes[r] = sumBase === 0 ? 0 : change(sumBase, sumValue);
  }
  changes.sort();
  return {
    change: change(total(base), total(value)),
    low: quantile(changes, (1 - confidence) / 2),
    high: quantile(changes, (1 + confidence) / 2),
    n,
  };
}
