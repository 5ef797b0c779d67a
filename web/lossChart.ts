/**
 * A small SVG chart of the guidance over loop indices: the loss (left scale) and the indicator (right scale,
 * with the refinement thresholds as ticks), refinements as rings (red where the cap stopped them), and a
 * cursor at the loop index the heatmaps show.
 */
import type { GuidanceTrace } from '../src/pipeline/trace.ts';

const SVG = 'http://www.w3.org/2000/svg';
const [WIDTH, HEIGHT] = [360, 150];
const PAD = { left: 44, right: 44, top: 12, bottom: 24 };

function element<K extends keyof SVGElementTagNameMap>(
  name: K,
  attributes: Record<string, string | number>,
  parent?: SVGElement,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  parent?.appendChild(node);
  return node;
}

function range(values: number[]): [number, number] {
  let [low, high] = [Math.min(...values), Math.max(...values)];
  if (low === high) [low, high] = [low - 0.5, high + 0.5];
  const margin = (high - low) * 0.08;
  return [low - margin, high + margin];
}

const short = (v: number) => (Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(2));

export interface LossChart {
  readonly svg: SVGSVGElement;
  /** Moves the cursor to a loop index. */
  mark(loopIndex: number): void;
}

export function lossChart(trace: GuidanceTrace): LossChart {
  const steps = trace.steps;
  const svg = element('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'loss-chart', role: 'img' });
  element('title', {}, svg).textContent = 'loss and indicator over loop indices';
  const lastIndex = Math.max(1, ...steps.map((s) => s.loopIndex));
  const x = (i: number) => PAD.left + (i / lastIndex) * (WIDTH - PAD.left - PAD.right);
  const thresholds = Object.entries(trace.settings.thresholds).map(([i, v]) => [Number(i), v] as const);
  const [lossLow, lossHigh] = range(steps.map((s) => s.loss));
  const [indLow, indHigh] = range([...steps.map((s) => s.indicator), ...thresholds.map(([, v]) => v)]);
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const yLoss = (v: number) => PAD.top + ((lossHigh - v) / (lossHigh - lossLow)) * plotHeight;
  const yInd = (v: number) => PAD.top + ((indHigh - v) / (indHigh - indLow)) * plotHeight;

  element(
    'rect',
    { x: PAD.left, y: PAD.top, width: WIDTH - PAD.left - PAD.right, height: plotHeight, class: 'plot' },
    svg,
  );
  const axisLabel = (text: string, px: number, py: number, anchor: string, cls: string) => {
    const label = element('text', { x: px, y: py, 'text-anchor': anchor, class: cls }, svg);
    label.textContent = text;
  };
  axisLabel(short(lossHigh), PAD.left - 4, PAD.top + 8, 'end', 'loss');
  axisLabel(short(lossLow), PAD.left - 4, HEIGHT - PAD.bottom, 'end', 'loss');
  axisLabel(short(indHigh), WIDTH - PAD.right + 4, PAD.top + 8, 'start', 'indicator');
  axisLabel(short(indLow), WIDTH - PAD.right + 4, HEIGHT - PAD.bottom, 'start', 'indicator');
  axisLabel('0', x(0), HEIGHT - 8, 'middle', 'axis');
  axisLabel(String(lastIndex), x(lastIndex), HEIGHT - 8, 'middle', 'axis');
  axisLabel('loop index', WIDTH / 2, HEIGHT - 8, 'middle', 'axis');

  for (const [i, v] of thresholds) {
    if (i > lastIndex) continue;
    const tick = element(
      'line',
      { x1: x(i) - 7, x2: x(i) + 7, y1: yInd(v), y2: yInd(v), class: 'threshold' },
      svg,
    );
    element('title', {}, tick).textContent = `threshold ${v} at loop index ${i}`;
  }
  const line = (y: (v: number) => number, pick: (s: (typeof steps)[number]) => number, cls: string) =>
    element(
      'polyline',
      { points: steps.map((s) => `${x(s.loopIndex)},${y(pick(s))}`).join(' '), class: cls },
      svg,
    );
  line(yLoss, (s) => s.loss, 'loss');
  line(yInd, (s) => s.indicator, 'indicator');

  for (const step of steps) {
    const refinement = step.refinement;
    if (!refinement) continue;
    const ring = element(
      'circle',
      {
        cx: x(step.loopIndex),
        cy: yInd(step.indicator),
        r: 4 + Math.min(6, Math.log2(1 + refinement.iterations)),
        class: refinement.capHit ? 'refinement cap-hit' : 'refinement',
      },
      svg,
    );
    element('title', {}, ring).textContent =
      `loop index ${step.loopIndex}: refinement, ${refinement.iterations} of at most ${refinement.cap} iterations` +
      (refinement.capHit ? `, stopped at the cap below the threshold ${refinement.threshold}` : '');
  }
  const cursor = element('line', { y1: PAD.top, y2: HEIGHT - PAD.bottom, class: 'cursor' }, svg);
  return {
    svg,
    mark(loopIndex) {
      cursor.setAttribute('x1', String(x(loopIndex)));
      cursor.setAttribute('x2', String(x(loopIndex)));
    },
  };
}
