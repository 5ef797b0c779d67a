/**
 * What a benchmark report is made from: the run's images with their scores, read once from the store
 * (loadReportInput.ts) so that the summary, the chart and the pages are plain functions of this value.
 */
import { METHODS, methodLabel as registryLabel } from '../../guidance/methods/index.ts';
import type { BenchmarkMetric } from '../scoreMetrics.ts';

export interface ReportEntry {
  jobId: number;
  set: string;
  promptId: string;
  prompt: string;
  method: string;
  seed: string;
  /** Absolute path of the image. */
  imagePath: string;
  /** The image's path relative to the run folder, as the store records it. */
  relativeImagePath: string;
  scores: Partial<Record<BenchmarkMetric, number>>;
}

export interface ReportSet {
  name: string;
  /** As the paper names it, e.g. `Animal-Animal`. */
  label: string;
}

export interface ReportInput {
  /** The run folder. */
  dir: string;
  /** Sets in the run's order. */
  sets: ReportSet[];
  /** Methods in display order, plain SD first. */
  methods: string[];
  /** The run's recorded settings (model, generation options), shown as they are. */
  settings: unknown;
  entries: ReportEntry[];
}

/** How Fig. 5 labels the methods (the registry's short labels); others keep their own name. */
export function methodLabel(method: string): string {
  return registryLabel(method, 'short');
}

/** The registry's order (plain SD, A&E, D&B), then anything else in the order given. */
export function orderMethods(methods: Iterable<string>): string[] {
  const known: readonly string[] = METHODS;
  const unique = [...new Set(methods)];
  const rank = (m: string) => (known.includes(m) ? known.indexOf(m) : known.length + unique.indexOf(m));
  return unique.sort((a, b) => rank(a) - rank(b));
}

/** "1 set", "2 sets". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
