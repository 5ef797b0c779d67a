/**
 * The report as one self-contained HTML file: the chart's SVG inline, the results table, and the image grids
 * with their thumbnails as data URIs, so it opens anywhere with no network and no files beside it.
 */
import { METRIC_DESCRIPTIONS, METRIC_LABELS } from '../scoreMetrics.ts';
import { type ImageGrid, selectImageGrids } from './imageGrids.ts';
import type { ReportContent } from './reportContent.ts';
import { methodLabel, plural } from './reportInput.ts';
import { pngDataUri, thumbnailPng } from './thumbnails.ts';

export async function htmlReport(content: ReportContent): Promise<string> {
  const { input, summary, table, chartSvg, options } = content;
  const grids = selectImageGrids(input, options);
  const methods = input.methods.map(methodLabel);
  const header = `<tr><th>Metric</th><th>Set</th>${methods.map((m) => `<th>${escapeHtml(m)}</th>`).join('')}</tr>`;
  const body = table
    .map(
      (row) =>
        `<tr><td>${escapeHtml(row.metric)}</td><td>${escapeHtml(row.set)}</td>${row.cells
          .map((cell) =>
            cell
              ? `<td><b>${cell.value}</b> <span class="ci">${cell.interval}</span>` +
                `${cell.change ? ` <span class="${cell.change.startsWith('−') ? 'change down' : 'change'}">${cell.change}</span>` : ''}` +
                `${cell.changeInterval ? ` <span class="ci">${cell.changeInterval}</span>` : ''} <span class="n">n=${cell.n}</span></td>`
              : '<td class="missing">—</td>',
          )
          .join('')}</tr>`,
    )
    .join('\n');
  const metricNotes = summary.metrics
    .map(
      (metric) =>
        `<li><b>${escapeHtml(METRIC_LABELS[metric])}</b>: ${escapeHtml(METRIC_DESCRIPTIONS[metric])}</li>`,
    )
    .join('');
  const gridHtml = (
    await Promise.all(grids.map((grid) => gridSection(grid, methods, options.thumbnailSize)))
  ).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${escapeHtml(content.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(content.title)}</h1>
<p class="muted">${escapeHtml(runLine(content))}</p>
<section id="chart"><h2>Scores</h2>
<p class="muted">Mean per set and method with 95% bootstrap intervals (${options.resamples} resamples over prompt × seed images); the figure over each bar is its change over SD, which the table gives with a paired interval (the same prompt and seed resampled together).</p>
<figure class="chart">${chartSvg}</figure>
<ul class="metrics">${metricNotes}</ul>
</section>
<section id="table"><h2>Results</h2>
<table class="results"><thead>${header}</thead><tbody>
${body}
</tbody></table>
</section>
<section id="grids"><h2>Images</h2>
<p class="muted">Each row is one prompt and one seed; the methods start from the same noise.</p>
${gridHtml}
</section>
</body>
</html>
`;
}

async function gridSection(grid: ImageGrid, methods: string[], size: number): Promise<string> {
  const rows = await Promise.all(
    grid.rows.map(async (row) => {
      const cells = await Promise.all(
        row.images.map(async (entry, k) => {
          if (!entry) return '<td class="missing">not generated</td>';
          const thumbnail = await thumbnailPng(entry.imagePath, size);
          if (!thumbnail)
            return `<td class="missing">unreadable: ${escapeHtml(entry.relativeImagePath)}</td>`;
          const alt = `${row.prompt} · ${methods[k]} · seed ${row.seed}`;
          return `<td><img src="${pngDataUri(thumbnail.png)}" alt="${escapeHtml(alt)}" title="${escapeHtml(alt)}" width="${thumbnail.width}" height="${thumbnail.height}"></td>`;
        }),
      );
      return `<tr><th scope="row"><span class="prompt">${escapeHtml(row.prompt)}</span><span class="muted">seed ${escapeHtml(row.seed)}</span></th>${cells.join('')}</tr>`;
    }),
  );
  return `<h3>${escapeHtml(grid.label)}</h3>
<table class="grid" data-set="${escapeHtml(grid.set)}"><thead><tr><th></th>${methods.map((m) => `<th>${escapeHtml(m)}</th>`).join('')}</tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

function runLine(content: ReportContent): string {
  const { input } = content;
  const settings = (input.settings ?? {}) as Record<string, unknown>;
  const parts = [
    `${input.entries.length} images`,
    plural(input.sets.length, 'set'),
    `methods ${input.methods.join(', ')}`,
  ];
  if (typeof settings.model === 'string') parts.unshift(`model ${settings.model}`);
  return parts.join(' · ');
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

const STYLE = `
body { font: 14px/1.45 Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1200px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; } h3 { font-size: 15px; }
.muted { color: #666; }
figure.chart { margin: 0; overflow-x: auto; }
table { border-collapse: collapse; }
table.results td, table.results th { border-bottom: 1px solid #e3e3e3; padding: 4px 10px; text-align: left; white-space: nowrap; }
.ci, .n { color: #777; font-size: 12px; } .change { color: #2a7a2a; font-weight: bold; } .change.down { color: #b03030; }
table.grid th, table.grid td { padding: 3px; vertical-align: middle; text-align: center; }
table.grid th[scope=row] { text-align: left; max-width: 220px; font-weight: normal; }
table.grid th[scope=row] span { display: block; } .prompt { font-weight: bold; }
table.grid img { display: block; border-radius: 3px; }
.missing { color: #a33; font-size: 12px; }
`;
