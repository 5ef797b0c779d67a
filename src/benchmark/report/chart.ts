/**
 * The Fig. 5-style chart of the D&B paper: one panel per metric, the prompt sets along the x axis, a bar per
 * method (SD, A&E, D&B) with its 95% interval as an error bar and the % over SD written above it. Written as a
 * Vega-Lite spec and rendered to SVG on the server by Vega's headless view, so the report needs no script.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { METRIC_LABELS } from '../scoreMetrics.ts';
import { methodLabel, type ReportInput } from './reportInput.ts';
import { signed } from './resultsTable.ts';
import type { ReportSummary } from './summary.ts';

/** Fig. 5's palette: grey for the baseline, then two distinct hues. */
const METHOD_COLOURS = ['#9e9e9e', '#f28e2b', '#4e79a7', '#59a14f', '#e15759', '#b07aa1'];

export function chartSpec(input: ReportInput, summary: ReportSummary): TopLevelSpec {
  const setLabels = new Map(input.sets.map((set) => [set.name, set.label]));
  const methodLabels = input.methods.map(methodLabel);
  const values = summary.cells.map((cell) => ({
    metric: METRIC_LABELS[cell.metric],
    set: setLabels.get(cell.set) ?? cell.set,
    method: methodLabel(cell.method),
    mean: cell.mean,
    low: cell.low,
    high: cell.high,
    n: cell.n,
    change: cell.improvementOverSd === null ? '' : `${signed(cell.improvementOverSd)}%`,
  }));
  const x = { field: 'set', type: 'nominal', title: null, sort: input.sets.map((s) => s.label) } as const;
  const xOffset = { field: 'method', type: 'nominal', sort: methodLabels } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    data: { values },
    facet: {
      column: {
        field: 'metric',
        type: 'nominal',
        title: null,
        sort: summary.metrics.map((m) => METRIC_LABELS[m]),
        header: { labelFontSize: 13, labelFontWeight: 'bold' },
      },
    },
    resolve: { scale: { y: 'independent' } },
    spec: {
      // Room for every method's bar and its label in each set's band, and for the panel's title.
      width: Math.max(170, input.sets.length * (20 * Math.max(1, input.methods.length) + 24)),
      height: 220,
      encoding: { x, xOffset },
      layer: [
        {
          name: 'bars',
          mark: { type: 'bar' },
          encoding: {
            y: { field: 'mean', type: 'quantitative', title: 'mean score' },
            color: {
              field: 'method',
              type: 'nominal',
              title: 'Method',
              sort: methodLabels,
              scale: { domain: methodLabels, range: METHOD_COLOURS.slice(0, methodLabels.length) },
              legend: { orient: 'top' },
            },
            tooltip: [
              { field: 'set', title: 'set' },
              { field: 'method', title: 'method' },
              { field: 'mean', format: '.4f' },
              { field: 'low', title: '95% low', format: '.4f' },
              { field: 'high', title: '95% high', format: '.4f' },
              { field: 'n', title: 'images' },
            ],
          },
        },
        {
          name: 'intervals',
          mark: { type: 'errorbar', color: '#222', ticks: { size: 6 } },
          encoding: { y: { field: 'low', type: 'quantitative', title: null }, y2: { field: 'high' } },
        },
        {
          name: 'changes',
          mark: { type: 'text', dy: -6, fontSize: 9, angle: 0, baseline: 'bottom' },
          encoding: { y: { field: 'high', type: 'quantitative', title: null }, text: { field: 'change' } },
        },
      ],
    },
    config: { font: 'Helvetica, Arial, sans-serif', view: { stroke: '#ddd' }, axisX: { labelAngle: -30 } },
  } as TopLevelSpec;
}

/** The chart as a standalone SVG document (no scripts, no external references). */
export async function renderChartSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
