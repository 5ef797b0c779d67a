/**
 * Per set × method × metric: the mean score with its 95% bootstrap interval over the set's prompt × seed
 * images, and the relative change over plain SD that Fig. 5 of the D&B paper prints over each bar:
 * 100 · (mean_method − mean_SD) / mean_SD.
 */
import { BENCHMARK_METRICS, type BenchmarkMetric } from '../scoreMetrics.ts';
import { type BootstrapOptions, bootstrapMeanInterval } from './bootstrap.ts';
import type { ReportInput } from './reportInput.ts';

export interface SummaryCell {
  set: string;
  method: string;
  metric: BenchmarkMetric;
  mean: number;
  low: number;
  high: number;
  /** Number of scored images (prompt × seed pairs). */
  n: number;
  /** % over plain SD on the same set and metric; null for SD itself or when SD has no score. */
  improvementOverSd: number | null;
}

export interface ReportSummary {
  cells: SummaryCell[];
  /** Metrics with at least one score, in BENCHMARK_METRICS order. */
  metrics: BenchmarkMetric[];
}

export function summarise(input: ReportInput, options: BootstrapOptions = {}): ReportSummary {
  const groups = new Map<string, number[]>();
  const key = (set: string, method: string, metric: string) => JSON.stringify([set, method, metric]);
  for (const entry of input.entries) {
    for (const [metric, value] of Object.entries(entry.scores)) {
      if (value === undefined || !Number.isFinite(value)) continue;
      const k = key(entry.set, entry.method, metric);
      const values = groups.get(k) ?? [];
      values.push(value);
      groups.set(k, values);
    }
  }
  const cells: SummaryCell[] = [];
  const metrics = BENCHMARK_METRICS.filter((metric) =>
    input.sets.some((set) => input.methods.some((method) => groups.has(key(set.name, method, metric)))),
  );
  for (const metric of metrics) {
    for (const set of input.sets) {
      const sd = groups.get(key(set.name, 'sd', metric));
      const sdMean = sd ? sd.reduce((a, b) => a + b, 0) / sd.length : null;
      for (const method of input.methods) {
        const values = groups.get(key(set.name, method, metric));
        if (!values) continue;
        const { mean, low, high, n } = bootstrapMeanInterval(values, options);
        const improvementOverSd =
          method === 'sd' || sdMean === null || sdMean === 0 ? null : (100 * (mean - sdMean)) / sdMean;
        cells.push({ set: set.name, method, metric, mean, low, high, n, improvementOverSd });
      }
    }
  }
  return { cells, metrics };
}
