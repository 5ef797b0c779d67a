/**
 * One method's column: the image, and for guided methods a loop-index slider that shows each object token's
 * smoothed attention map at that step, the numbers of the step, and the loss chart.
 */
import type { StudioMethod, StudioMethodResult } from '../src/server/studioProtocol.ts';
import { INFERNO_CSS } from './colormap.ts';
import { h } from './dom.ts';
import { drawHeatmap } from './heatmap.ts';
import { lossChart } from './lossChart.ts';
import { methodLabel } from './methodNames.ts';

const HEATMAP_SIZE = 160;
const fixed = (v: number) => v.toFixed(4);

export interface ResultCard {
  readonly element: HTMLElement;
  /** Shows the guided step nearest at or before this loop index (for linked sliders). */
  showLoopIndex(loopIndex: number): void;
}

/** A column waiting for its result, with a progress bar. */
export function pendingCard(method: StudioMethod): {
  element: HTMLElement;
  progress(step: number, total: number): void;
} {
  const bar = h('progress', { max: 1, value: 0 });
  const label = h('span', { class: 'muted' }, 'waiting…');
  const element = h(
    'section',
    { class: 'card pending' },
    h('h2', {}, methodLabel(method)),
    h('div', { class: 'placeholder' }, bar, label),
  );
  return {
    element,
    progress(step, total) {
      bar.max = total;
      bar.value = step;
      label.textContent = `step ${step} of ${total}`;
    },
  };
}

export function resultCard(result: StudioMethodResult, onLoopIndex: (loopIndex: number) => void): ResultCard {
  const image = h('img', {
    src: result.image,
    alt: `${methodLabel(result.method)} result`,
    class: 'result-image',
  });
  // Tiny test models make 64 px images: keep their pixels sharp when enlarged.
  if (result.width < 256) image.classList.add('pixelated');
  const header = h(
    'header',
    {},
    h('h2', {}, methodLabel(result.method)),
    h('span', { class: 'muted' }, `${result.width}×${result.height} · ${result.seconds.toFixed(1)} s`),
  );
  const element = h('section', { class: 'card' }, header, image);
  const trace = result.trace;
  const r = result.mapResolution;
  if (!trace || !r || trace.steps.length === 0) {
    element.append(h('p', { class: 'muted' }, 'No guidance: the reference image from the same seed.'));
    return { element, showLoopIndex: () => {} };
  }

  const slider = h('input', {
    type: 'range',
    min: 0,
    max: trace.steps.length - 1,
    value: 0,
    step: 1,
    'aria-label': 'guided step',
  });
  const stepLabel = h('div', { class: 'step-label' });
  const overlay = h('input', { type: 'checkbox', checked: true });
  const canvases = trace.objects.map(() => h('canvas', { width: HEATMAP_SIZE, height: HEATMAP_SIZE }));
  const captions = trace.objects.map(() => h('figcaption', {}));
  const maps = h(
    'div',
    { class: 'heatmaps' },
    ...trace.objects.map((_, k) => h('figure', {}, canvases[k], captions[k])),
  );
  const numbers = h('dl', { class: 'numbers' });
  const chart = lossChart(trace);
  const tokens = trace.objects
    .map((o, k) => {
      const attribute = trace.attributes[k];
      return attribute ? `${attribute.token} → ${o.token}` : o.token;
    })
    .join(', ');

  const show = (position: number) => {
    const step = trace.steps[position];
    slider.value = String(position);
    stepLabel.textContent = `loop index ${step.loopIndex} · timestep ${step.timestep}`;
    for (const [k, object] of trace.objects.entries()) {
      if (step.maps)
        drawHeatmap(canvases[k], step.maps, k, r, { image: overlay.checked ? image : null, opacity: 0.7 });
      const tv = step.totalVariation ? ` · TV ${fixed(step.totalVariation[k])}` : '';
      captions[k].textContent =
        `“${object.token}” (${object.index}) · max ${fixed(step.maxAttention[k])}${tv}`;
    }
    const refinement = step.refinement;
    numbers.replaceChildren(
      h('dt', {}, 'loss'),
      h('dd', {}, fixed(step.loss)),
      h('dt', {}, 'indicator'),
      h('dd', {}, fixed(step.indicator)),
      h('dt', {}, 'step size'),
      h('dd', {}, step.stepSize.toFixed(2)),
      h('dt', {}, 'updates'),
      h('dd', {}, String(step.updates)),
      h('dt', {}, 'refinement'),
      h(
        'dd',
        { class: refinement?.capHit ? 'cap-hit' : '' },
        refinement
          ? `${refinement.iterations}/${refinement.cap} iterations, threshold ${refinement.threshold}${refinement.capHit ? ' — cap hit' : ''}`
          : '—',
      ),
    );
    chart.mark(step.loopIndex);
  };
  slider.addEventListener('input', () => {
    show(Number(slider.value));
    onLoopIndex(trace.steps[Number(slider.value)].loopIndex);
  });
  overlay.addEventListener('change', () => show(Number(slider.value)));
  // The overlay needs the decoded image.
  image.addEventListener('load', () => show(Number(slider.value)));

  element.append(
    h('p', { class: 'tokens' }, h('span', { class: 'muted' }, 'tokens '), tokens),
    h('div', { class: 'slider-row' }, slider, stepLabel),
    maps,
    h(
      'div',
      { class: 'legend' },
      h('span', { class: 'scale', style: `background: ${INFERNO_CSS}` }),
      h('span', { class: 'muted' }, '0 → max of each map'),
      h('label', { class: 'overlay' }, overlay, ' over the image'),
    ),
    numbers,
    chart.svg,
    h(
      'p',
      { class: 'chart-key muted' },
      h('span', { class: 'key loss' }),
      'loss ',
      h('span', { class: 'key indicator' }),
      'indicator ',
      h('span', { class: 'key threshold' }),
      'threshold ',
      h('span', { class: 'key refinement' }),
      'refinement ',
      h('span', { class: 'key cap-hit' }),
      'cap hit',
    ),
  );
  show(0);
  return {
    element,
    showLoopIndex(loopIndex) {
      let position = 0;
      for (const [i, step] of trace.steps.entries()) if (step.loopIndex <= loopIndex) position = i;
      show(position);
    },
  };
}
