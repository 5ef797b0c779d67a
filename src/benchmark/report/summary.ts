/**
 * Per set × method × metric: the mean score with its 95% bootstrap interval over the set's prompt × seed
 * images, and the relative change over plain SD that Fig. 5 of the D&B paper prints over each bar:
 * 100 · (mean_method − mean_SD) / mean_SD, with a paired bootstrap interval over the images both have.
 */
import { BENCHMARK_METRICS, type BenchmarkMetric } from '../scoreMetrics.ts';
import { type BootstrapOptions, bootstrapMeanInterval, bootstrapRelativeChange } from './bootstrap.ts';
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
  /** % over plain SD on the same set and metric (all images of each); null for SD itself or without SD scores. */
  improvementOverSd: number | null;
  /** 95% paired-bootstrap interval of that change, over the prompt × seed pairs both methods have scored. */
  improvementInterval: { low: number; high: number; pairs: number } | null;
}

export interface ReportSummary {
  cells: SummaryCell[];
  /** Metrics with at least one score, in BENCHMARK_METRICS order. */
  metrics: BenchmarkMetric[];
}

export function summarise(input: ReportInput, options: BootstrapOptions = {}): ReportSummary {
  // set, method, metric → (prompt id, seed) → score
  const groups = new Map<string, Map<string, number>>();
  const key = (set: string, method: string, metric: string) => JSON.stringify([set, method, metric]);
  for (const entry of input.entries) {
    for (const [metric, value] of Object.entries(entry.scores)) {
      if (value === undefined || !Number.isFinite(value)) continue;
      const k = key(entry.set, entry.method, metric);
      const values = groups.get(k) ?? new Map<string, number>();
      values.set(JSON.stringify([entry.promptId, entry.seed]), value);
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
      const sdValues = sd ? [...sd.values()] : [];
      const sdMean = sd ? sdValues.reduce((a, b) => a + b, 0) / sdValues.length : null;
      for (const method of input.methods) {
        const scored = groups.get(key(set.name, method, metric));
        if (!scored) continue;
        const { mean, low, high, n } = bootstrapMeanInterval([...scored.values()], options);
        const compared = method !== 'sd' && sd !== undefined && sdMean !== 0;
        const improvementOverSd = compared && sdMean !== null ? (100 * (mean - sdMean)) / sdMean : null;
        let improvementInterval: SummaryCell['improvementInterval'] = null;
        if (compared) {
          const pairs = [...scored.keys()].filter((unit) => sd.has(unit));
          const change =
            pairs.length > 0 &&
            bootstrapRelativeChange(
              pairs.map((unit) => sd.get(unit) as number),
              pairs.map((unit) => scored.get(unit) as number),
              options,
            );
          if (change) improvementInterval = { low: change.low, high: change.high, pairs: change.n };
        }
        cells.push({
          set: set.name,
          method,
          metric,
          mean,
          low,
          high,
          n,
          improvementOverSd,
          improvementInterval,
        });
      }
    }
  }
  return { cells, metrics };
}
