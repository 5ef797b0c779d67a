/** Everything both report formats show, computed once from the input. */
import type { TopLevelSpec } from 'vega-lite';
import { chartSpec, renderChartSvg } from './chart.ts';
import type { GridOptions } from './imageGrids.ts';
import type { ReportInput } from './reportInput.ts';
import { resultsTable, type TableRow } from './resultsTable.ts';
import { type ReportSummary, summarise } from './summary.ts';

export interface ReportOptions extends GridOptions {
  title?: string;
  /** Bootstrap resamples per interval (default 2000). */
  resamples?: number;
  /** Seed of the bootstrap resampling (default 0). */
  bootstrapSeed?: number;
  /** Longest side of a grid thumbnail in pixels (default 160). */
  thumbnailSize?: number;
}

export interface ReportContent {
  title: string;
  input: ReportInput;
  summary: ReportSummary;
  table: TableRow[];
  chartSpec: TopLevelSpec;
  chartSvg: string;
  options: Required<Omit<ReportOptions, 'title'>>;
}

export async function reportContent(input: ReportInput, options: ReportOptions = {}): Promise<ReportContent> {
  const resolved = {
    resamples: options.resamples ?? 2000,
    bootstrapSeed: options.bootstrapSeed ?? 0,
    thumbnailSize: options.thumbnailSize ?? 160,
    promptsPerSet: options.promptsPerSet ?? 6,
    seedsPerPrompt: options.seedsPerPrompt ?? 1,
  };
  const summary = summarise(input, { resamples: resolved.resamples, seed: resolved.bootstrapSeed });
  const spec = chartSpec(input, summary);
  return {
    title: options.title ?? 'Benchmark report',
    input,
    summary,
    table: resultsTable(input, summary),
    chartSpec: spec,
    chartSvg:
      summary.cells.length > 0
        ? await renderChartSvg(spec)
        : '<p>No scores yet: run dnb benchmark score.</p>',
    options: resolved,
  };
}
