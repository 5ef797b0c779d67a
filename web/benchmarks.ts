/**
 * The studio's Benchmarks view: a run's Fig. 5-style chart, its results table and image grids (prompts × methods,
 * one seed per row), and for a clicked image its generation parameters (the PNG's `dnb` metadata), trace summary
 * and scores.
 */
import type { BenchmarkJobDetail, BenchmarkStatus, BenchmarkView } from '../src/server/benchmarkProtocol.ts';
import { h } from './dom.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const setSelect = $<HTMLSelectElement>('grid-set');
const promptsInput = $<HTMLInputElement>('grid-prompts');
const seedsInput = $<HTMLInputElement>('grid-seeds');
const THUMBNAIL = 160;

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  const body = (await response.json().catch(() => null)) as (T & { error?: string }) | null;
  if (!response.ok || body === null) throw new Error(body?.error ?? `the server answered ${response.status}`);
  return body;
}

function showError(error: unknown): void {
  const box = $('bench-error');
  box.hidden = false;
  box.textContent = (error as Error).message;
}

let view: BenchmarkView | null = null;

async function load(): Promise<void> {
  const query = new URLSearchParams({ prompts: promptsInput.value || '6', seeds: seedsInput.value || '1' });
  view = await getJson<BenchmarkView>(`/api/benchmark?${query}`);
  const { status } = view;
  $('run').textContent =
    `${view.dir} · model ${view.model} · ${status.done} of ${status.expected} images` +
    (status.failed ? ` · ${status.failed} failed` : '');
  renderChart(view);
  renderTable(view);
  renderSetChoice(view);
  renderGrids(view);
}

function renderChart(v: BenchmarkView): void {
  const figure = $('chart');
  // The SVG is Vega's rendering on our server; parsed as SVG (not HTML) it can carry no script.
  const svg = new DOMParser().parseFromString(v.chartSvg, 'image/svg+xml').documentElement;
  figure.replaceChildren(
    svg.nodeName === 'svg' ? document.importNode(svg, true) : h('p', {}, 'No scores yet.'),
  );
  $('metric-notes').replaceChildren(
    ...v.metrics.map((m) => h('li', {}, h('b', {}, m.label), `: ${m.description}`)),
  );
}

function renderTable(v: BenchmarkView): void {
  const head = h(
    'tr',
    {},
    h('th', {}, 'Metric'),
    h('th', {}, 'Set'),
    ...v.methods.map((m) => h('th', {}, m.label)),
  );
  const rows = v.table.map((row) =>
    h(
      'tr',
      {},
      h('td', {}, row.metric),
      h('td', {}, row.set),
      ...row.cells.map((cell) =>
        cell
          ? h(
              'td',
              {},
              h('b', {}, cell.value),
              ' ',
              h('span', { class: 'ci' }, cell.interval),
              ...(cell.change
                ? [
                    ' ',
                    h('span', { class: cell.change.startsWith('−') ? 'change down' : 'change' }, cell.change),
                    ' ',
                    h('span', { class: 'ci' }, cell.changeInterval),
                  ]
                : []),
              ' ',
              h('span', { class: 'n' }, `n=${cell.n}`),
            )
          : h('td', { class: 'muted' }, '—'),
      ),
    ),
  );
  $('results-table').replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
}

function renderSetChoice(v: BenchmarkView): void {
  const chosen = setSelect.value;
  setSelect.replaceChildren(
    h('option', { value: '' }, 'all sets'),
    ...v.sets.map((s) => h('option', { value: s.name }, s.label)),
  );
  setSelect.value = v.sets.some((s) => s.name === chosen) ? chosen : '';
}

function renderGrids(v: BenchmarkView): void {
  const grids = v.grids.filter((g) => !setSelect.value || g.set === setSelect.value);
  $('grids').replaceChildren(
    ...grids.map((grid) =>
      h(
        'section',
        { class: 'set-grid', 'data-set': grid.set },
        h('h3', {}, grid.label),
        h(
          'table',
          { class: 'image-grid' },
          h('thead', {}, h('tr', {}, h('th', {}), ...v.methods.map((m) => h('th', {}, m.label)))),
          h(
            'tbody',
            {},
            ...grid.rows.map((row) =>
              h(
                'tr',
                {},
                h(
                  'th',
                  { scope: 'row' },
                  h('span', {}, row.prompt),
                  h('span', { class: 'muted' }, `seed ${row.seed}`),
                ),
                ...row.jobIds.map((jobId, k) => {
                  if (jobId === null) return h('td', { class: 'muted small' }, 'not generated');
                  const alt = `${row.prompt} · ${v.methods[k].label} · seed ${row.seed}`;
                  const button = h(
                    'button',
                    { type: 'button', 'data-job': jobId, title: alt },
                    h('img', {
                      src: `/api/benchmark/images/${jobId}?size=${THUMBNAIL}`,
                      alt,
                      loading: 'lazy',
                    }),
                  );
                  button.addEventListener('click', () => {
                    for (const b of document.querySelectorAll('.image-grid button.selected')) {
                      b.classList.remove('selected');
                    }
                    button.classList.add('selected');
                    showDetail(jobId).catch(showError);
                  });
                  return h('td', {}, button);
                }),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/** key → value rows; nested values as compact JSON. */
function keyValueTable(record: Record<string, unknown>): HTMLTableElement {
  return h(
    'table',
    {},
    ...Object.entries(record).map(([key, value]) =>
      h(
        'tr',
        {},
        h('th', {}, key),
        h('td', {}, value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value)),
      ),
    ),
  );
}

async function showDetail(jobId: number): Promise<void> {
  const detail = await getJson<BenchmarkJobDetail>(`/api/benchmark/jobs/${jobId}`);
  const methodLabel = view?.methods.find((m) => m.name === detail.method)?.label ?? detail.method;
  const parts: (Node | string)[] = [
    h('h2', {}, `${methodLabel} · seed ${detail.seed}`),
    h('p', {}, h('b', {}, detail.prompt), h('br', {}), h('span', { class: 'muted small' }, detail.imagePath)),
    h('img', { src: detail.imageUrl, alt: `${detail.prompt} · ${methodLabel} · seed ${detail.seed}` }),
  ];
  if (detail.scores.length > 0) {
    parts.push(h('h3', {}, 'Scores'));
    parts.push(
      h(
        'table',
        { class: 'scores' },
        ...detail.scores.map((s) =>
          h(
            'tr',
            {},
            h('th', {}, s.label),
            h('td', {}, s.value.toFixed(4)),
            h('td', {}, s.detail === null ? '' : JSON.stringify(s.detail)),
          ),
        ),
      ),
    );
  }
  parts.push(h('h3', {}, 'Trace summary'));
  if (detail.traceSummary === null || detail.traceSummary.length === 0) {
    parts.push(h('p', { class: 'muted' }, 'No guidance: plain SD from the same seed.'));
  } else {
    parts.push(
      h(
        'table',
        { class: 'trace' },
        h(
          'tr',
          {},
          ...['loop index', 'loss', 'indicator', 'refinement iterations', 'cap hit'].map((t) =>
            h('th', {}, t),
          ),
        ),
        ...detail.traceSummary.map((step) =>
          h(
            'tr',
            { class: step.capHit ? 'cap-hit' : '' },
            h('td', {}, String(step.loopIndex)),
            h('td', {}, step.loss.toFixed(4)),
            h('td', {}, step.indicator.toFixed(4)),
            h('td', {}, String(step.refinementIterations)),
            h('td', {}, step.capHit ? 'yes' : ''),
          ),
        ),
      ),
    );
  }
  parts.push(h('h3', {}, 'Generation parameters'));
  parts.push(
    detail.parameters
      ? keyValueTable(detail.parameters)
      : h('p', { class: 'muted' }, 'The PNG has no dnb metadata.'),
  );
  if (detail.parametersText) parts.push(h('pre', {}, detail.parametersText));
  parts.push(h('h3', {}, 'Timings'));
  parts.push(
    keyValueTable({ 'total (s)': (detail.timings.totalMs / 1000).toFixed(2), ...detail.timings.phases }),
    h('p', { class: 'muted small' }, `made by ${detail.worker} at ${detail.createdAt}`),
  );
  $('detail-body').replaceChildren(...parts);
  $('detail').hidden = false;
}

$('detail-close').addEventListener('click', () => {
  $('detail').hidden = true;
});
setSelect.addEventListener('change', () => view && renderGrids(view));
for (const input of [promptsInput, seedsInput]) {
  input.addEventListener('change', () => load().catch(showError));
}
// The generation page exists only when the studio has a model.
getJson<BenchmarkStatus>('/api/benchmark/status')
  .then((status) => {
    $('studio-link').hidden = !status.generation;
  })
  .catch(showError);

load().catch(showError);
