/**
 * The report as Markdown: the results table, the chart as an SVG file beside it and the grids as tables of
 * thumbnail PNGs in a folder beside it (`NAME.md`, `NAME-chart.svg`, `NAME-images/`), so it renders on GitHub.
 */
import { METRIC_DESCRIPTIONS, METRIC_LABELS } from '../scoreMetrics.ts';
import { selectImageGrids } from './imageGrids.ts';
import type { ReportContent } from './reportContent.ts';
import { methodLabel, plural } from './reportInput.ts';
import { thumbnailPng } from './thumbnails.ts';

export interface MarkdownReport {
  markdown: string;
  /** Files the Markdown links to, by path relative to its folder. */
  files: Map<string, Uint8Array | string>;
}

/** `baseName` is the Markdown file's name without `.md`; the side files are named after it. */
export async function markdownReport(content: ReportContent, baseName: string): Promise<MarkdownReport> {
  const { input, summary, table, chartSvg, options } = content;
  const files = new Map<string, Uint8Array | string>();
  const chartFile = `${baseName}-chart.svg`;
  files.set(chartFile, chartSvg);
  const methods = input.methods.map(methodLabel);
  const lines = [
    `# ${content.title}`,
    '',
    `${input.entries.length} images · ${plural(input.sets.length, 'set')} · methods ${input.methods.join(', ')}`,
    '',
    '## Scores',
    '',
    `Mean per set and method with 95% bootstrap intervals (${options.resamples} resamples over prompt × seed ` +
      'images); the figure over each bar is its change over SD, which the table gives with a paired interval ' +
      '(the same prompt and seed resampled together).',
    '',
    `![Scores per set and method](${encodeURI(chartFile)})`,
    '',
    ...summary.metrics.map((metric) => `- **${METRIC_LABELS[metric]}**: ${METRIC_DESCRIPTIONS[metric]}`),
    '',
    '## Results',
    '',
    `| Metric | Set | ${methods.map(cellText).join(' | ')} |`,
    `| --- | --- |${methods.map(() => ' --- |').join('')}`,
    ...table.map(
      (row) =>
        `| ${cellText(row.metric)} | ${cellText(row.set)} | ${row.cells
          .map((c) =>
            c
              ? `**${c.value}** ${c.interval}${c.change ? ` ${c.change} ${c.changeInterval}` : ''} (n=${c.n})`
              : '—',
          )
          .join(' | ')} |`,
    ),
    '',
    '## Images',
    '',
    'Each row is one prompt and one seed; the methods start from the same noise.',
  ];
  for (const grid of selectImageGrids(input, options)) {
    lines.push('', `### ${grid.label}`, '', `| Prompt | ${methods.map(cellText).join(' | ')} |`);
    lines.push(`| --- |${methods.map(() => ' --- |').join('')}`);
    for (const row of grid.rows) {
      const cells: string[] = [];
      for (const [k, entry] of row.images.entries()) {
        const thumbnail = entry && (await thumbnailPng(entry.imagePath, options.thumbnailSize));
        if (!entry || !thumbnail) {
          cells.push(entry ? 'unreadable' : 'not generated');
          continue;
        }
        const file = [`${baseName}-images`, grid.set, row.promptId, `${row.seed}-${input.methods[k]}.png`]
          .map(pathSegment)
          .join('/');
        files.set(file, thumbnail.png);
        cells.push(`![${cellText(`${methods[k]}, seed ${row.seed}`)}](${encodeURI(file)})`);
      }
      lines.push(`| ${cellText(row.prompt)}<br>seed ${row.seed} | ${cells.join(' | ')} |`);
    }
  }
  lines.push('');
  return { markdown: lines.join('\n'), files };
}

/** A name safe as one path segment on every file system (the run's names already are, as image folders). */
function pathSegment(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

/** Text safe inside a Markdown table cell: pipes escaped, line breaks flattened. */
function cellText(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}
