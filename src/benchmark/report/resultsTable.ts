/** The report's table, one row per metric × set and a column per method, shared by the HTML and Markdown pages. */
import { METRIC_LABELS } from '../scoreMetrics.ts';
import type { ReportInput } from './reportInput.ts';
import type { ReportSummary, SummaryCell } from './summary.ts';

export interface TableRow {
  metric: string;
  set: string;
  /**
   * Per method of the input: "0.3312", "[0.3287, 0.3339]", "+4.1%" over SD with its interval "[+2.0, +6.3]",
   * and the image count; null if unscored.
   */
  cells: ({ value: string; interval: string; change: string; changeInterval: string; n: number } | null)[];
}

export function resultsTable(input: ReportInput, summary: ReportSummary): TableRow[] {
  const byKey = new Map(summary.cells.map((cell) => [`${cell.metric}\0${cell.set}\0${cell.method}`, cell]));
  const rows: TableRow[] = [];
  for (const metric of summary.metrics) {
    for (const set of input.sets) {
      const cells = input.methods.map((method) => byKey.get(`${metric}\0${set.name}\0${method}`) ?? null);
      if (cells.every((cell) => cell === null)) continue;
      rows.push({
        metric: METRIC_LABELS[metric],
        set: set.label,
        cells: cells.map((c) => c && formatCell(c)),
      });
    }
  }
  return rows;
}

function formatCell(cell: SummaryCell) {
  const change = cell.improvementOverSd;
  const interval = cell.improvementInterval;
  return {
    value: cell.mean.toFixed(4),
    interval: `[${cell.low.toFixed(4)}, ${cell.high.toFixed(4)}]`,
    change: change === null ? '' : `${signed(change)}%`,
    changeInterval: interval === null ? '' : `[${signed(interval.low)}, ${signed(interval.high)}]`,
    n: cell.n,
  };
}

/** "+4.1", "−0.3": one decimal, the sign always shown (a true minus sign). */
export function signed(value: number): string {
  const rounded = Number(value.toFixed(1)); // so −0.04 reads "+0.0", not "−0.0"
  return `${rounded >= 0 ? '+' : '−'}${Math.abs(rounded).toFixed(1)}`;
}
