import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadReportInput } from '../../src/benchmark/report/loadReportInput.ts';
import type { ReportInput } from '../../src/benchmark/report/reportInput.ts';
import { summarise } from '../../src/benchmark/report/summary.ts';
import { writeReport } from '../../src/benchmark/report/writeReport.ts';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { runDnb } from '../cli/runDnb.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { IMAGE_SIZE, makeTestRun, type TestRun } from './reportRun.ts';

function readInput(dir: string): ReportInput {
  const store = BenchmarkStore.open(dir);
  try {
    return loadReportInput(store);
  } finally {
    store.close();
  }
}

/** The data URIs of a page's <img> elements, decoded. */
async function embeddedImages(html: string) {
  const uris = [...html.matchAll(/<img src="data:image\/png;base64,([^"]+)"/g)].map((m) => m[1]);
  return Promise.all(uris.map((b64) => sharp(Buffer.from(b64, 'base64')).metadata()));
}

describe('benchmark report', () => {
  let run: TestRun;
  let input: ReportInput;

  beforeAll(async () => {
    run = await makeTestRun();
    input = readInput(run.dir);
  });
  afterAll(async () => {
    if (run) await rm(run.dir, { recursive: true, force: true });
  });

  it('reads every finished image with its prompt and scores from the store', () => {
    expect(input.sets.map((s) => [s.name, s.label])).toEqual([
      ['animal-animal', 'Animal-Animal'],
      ['color-object', 'Color-Object'],
    ]);
    expect(input.methods).toEqual(['sd', 'attend-excite', 'divide-bind']);
    expect(input.entries).toHaveLength(35); // 36 jobs, one failed
    const first = input.entries[0];
    expect(first).toMatchObject({
      set: 'animal-animal',
      promptId: 'a-cat-and-a-dog',
      prompt: 'a cat and a dog',
    });
    expect(first.imagePath).toBe(join(run.dir, 'images/animal-animal/sd/a-cat-and-a-dog/0.png'));
    expect(first.scores).toEqual({ 'clip-full': 0.3, 'clip-min-half': 0.2, tifa: 0.5 });
  });

  it('gives each set × method its mean, a bootstrap interval around it and the change over SD', () => {
    const { cells, metrics } = summarise(input);
    expect(metrics).toEqual(['clip-full', 'clip-min-half', 'tifa']);
    const cell = (metric: string, set: string, method: string) =>
      cells.find((c) => c.metric === metric && c.set === set && c.method === method);
    // Animal-Animal CLIP: 0.30, 0.31, 0.32 for seeds 0-2 on both prompts, plus 0.02 (A&E) or 0.04 (D&B).
    const sd = cell('clip-full', 'animal-animal', 'sd')!;
    expect(sd.mean).toBeCloseTo(0.31, 12);
    expect(sd.n).toBe(6);
    expect(sd.improvementOverSd).toBeNull();
    expect(sd.low).toBeGreaterThanOrEqual(0.3 - 1e-12);
    expect(sd.low).toBeLessThan(sd.mean);
    expect(sd.high).toBeGreaterThan(sd.mean);
    expect(sd.high).toBeLessThanOrEqual(0.32 + 1e-12);
    expect(cell('clip-full', 'animal-animal', 'attend-excite')!.improvementOverSd).toBeCloseTo(
      (100 * 0.02) / 0.31,
      9,
    );
    expect(cell('clip-full', 'animal-animal', 'divide-bind')!.improvementOverSd).toBeCloseTo(
      (100 * 0.04) / 0.31,
      9,
    );
    // Color-Object D&B lacks seed 2 of its second prompt: (0.34 + 0.35 + 0.36 + 0.34 + 0.35) / 5 = 0.348.
    const dnb = cell('clip-full', 'color-object', 'divide-bind')!;
    expect(dnb.n).toBe(5);
    expect(dnb.mean).toBeCloseTo(0.348, 12);
    expect(dnb.improvementOverSd).toBeCloseTo((100 * (0.348 - 0.31)) / 0.31, 9);
    // TIFA: 0.5 at seed 0, else 1: 5/6 for complete cells, (0.5 + 1 + 1 + 0.5 + 1) / 5 = 0.8 for that one.
    expect(cell('tifa', 'color-object', 'divide-bind')!.improvementOverSd).toBeCloseTo(-4, 9);
    // A constant metric has a zero-width interval.
    expect(cell('clip-min-half', 'animal-animal', 'divide-bind')).toMatchObject({
      mean: 0.2 + 0.04,
      low: 0.2 + 0.04,
      high: 0.2 + 0.04,
      n: 6,
    });
    expect(cell('clip-min-half', 'color-object', 'sd')).toBeUndefined();
  });

  it('writes one self-contained HTML file with the chart, the table and the image grids', async () => {
    const out = join(run.dir, 'report.html');
    const written = await writeReport(input, out, { title: 'Tiny run' });
    expect(written).toEqual([out]);
    const html = await readFile(out, 'utf8');
    // The chart: inline SVG, one bar per scored set × method × metric (6 + 3 + 6), changes over SD on top.
    const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>') + 6);
    expect(svg.length).toBeGreaterThan(1000);
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(15);
    for (const label of [
      'Full prompt similarity',
      'Minimum object similarity',
      'TIFA score',
      'Animal-Animal',
    ]) {
      expect(svg).toContain(label);
    }
    expect(svg).toContain('+6.5%'); // A&E over SD on Animal-Animal CLIP: 0.02 / 0.31
    expect(svg).toContain('+12.3%'); // D&B over SD on Color-Object CLIP
    expect(svg).toContain('−4.0%'); // D&B's TIFA on Color-Object
    // The table: mean, interval, change and count.
    expect(html).toMatch(
      /<td><b>0\.3100<\/b> <span class="ci">\[0\.30\d\d, 0\.31\d\d\]<\/span> <span class="n">n=6/,
    );
    expect(html).toContain('<b>0.3480</b>');
    expect(html).toContain('<span class="change down">−4.0%</span>');
    expect(html).toMatch(
      /<span class="change">\+6\.5%<\/span> <span class="ci">\[\+6\.\d, \+6\.\d\]<\/span>/,
    );
    // The grids: 2 sets × 2 prompts × 3 methods, each a 64 px PNG embedded as a data URI.
    const images = await embeddedImages(html);
    expect(images).toHaveLength(12);
    for (const image of images) expect([image.format, image.width, image.height]).toEqual(['png', 64, 64]);
    expect(html).toContain('a green bench and a pink clock');
    // Nothing to fetch: no scripts, no external URLs (the only http text is the SVG namespace).
    expect(html).not.toMatch(/<script|<link|url\(/i);
    expect(html.replace(/xmlns(:xlink)?="http:\/\/www\.w3\.org\/[^"]+"/g, '')).not.toMatch(/https?:/);
  });

  it('shows a seed with a missing image as not generated when the grid takes several seeds', async () => {
    const out = join(run.dir, 'seeds.html');
    await writeReport(input, out, { seedsPerPrompt: 3, promptsPerSet: 1 });
    const html = await readFile(out, 'utf8');
    // One prompt per set, all complete: 2 sets × 3 seeds × 3 methods.
    expect(await embeddedImages(html)).toHaveLength(2 * 3 * 3);
    const all = join(run.dir, 'all.html');
    await writeReport(input, all, { seedsPerPrompt: 3, thumbnailSize: 32 });
    const full = await readFile(all, 'utf8');
    const images = await embeddedImages(full);
    expect(images).toHaveLength(2 * 2 * 3 * 3 - 1);
    expect(images[0].width).toBe(32);
    expect(full.match(/not generated/g)).toHaveLength(1);
  });

  it('writes Markdown with the chart as an SVG file and the grid images beside it', async () => {
    const out = join(run.dir, 'summary.md');
    const written = await writeReport(input, out);
    const markdown = await readFile(out, 'utf8');
    expect(markdown).toContain('| Metric | Set | SD | A&E | D&B |');
    expect(markdown).toContain('| Full prompt similarity | Animal-Animal | **0.3100**');
    expect(markdown).toContain('![Scores per set and method](summary-chart.svg)');
    const svg = await readFile(join(run.dir, 'summary-chart.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(15);
    const links = [...markdown.matchAll(/!\[[^\]]*\]\(([^)]+\.png)\)/g)].map((m) => decodeURI(m[1]));
    expect(links).toHaveLength(12);
    expect(links[0]).toBe('summary-images/animal-animal/a-cat-and-a-dog/0-sd.png');
    for (const link of links) {
      const meta = await sharp(join(run.dir, link)).metadata();
      expect([meta.width, meta.height]).toEqual([IMAGE_SIZE, IMAGE_SIZE]);
    }
    expect(written).toHaveLength(1 + 1 + 12); // the page, the chart, the thumbnails
  });

  it('never overwrites an existing report unless asked', async () => {
    const out = join(run.dir, 'kept.html');
    await writeFile(out, 'mine');
    const error = await userErrorOf(writeReport(input, out));
    expect(error.message).toBe(
      `${out} already exists; choose another --out or pass --overwrite to replace it`,
    );
    expect(await readFile(out, 'utf8')).toBe('mine');
    // Markdown: the chart beside it is checked too, before anything is written.
    await writeFile(join(run.dir, 'kept-chart.svg'), 'mine');
    await userErrorOf(writeReport(input, join(run.dir, 'kept.md')));
    await expect(stat(join(run.dir, 'kept.md'))).rejects.toThrow();
    await writeReport(input, out, { overwrite: true });
    expect(await readFile(out, 'utf8')).toContain('<svg');
    const missing = await userErrorOf(writeReport(input, join(run.dir, 'no/such/folder/r.html')));
    expect(missing.message).toContain('folder');
  });

  it('runs as dnb benchmark report DIR --out FILE, and refuses a folder without a run', async () => {
    const out = join(run.dir, 'cli.md');
    const first = await runDnb(['benchmark', 'report', run.dir, '--out', out, '--grid-prompts', '1']);
    expect(first.stderr).toContain(`Wrote ${out} and 7 files beside it (35 images, 35 scored)`);
    expect(first.code).toBe(0);
    expect(await readFile(out, 'utf8')).toContain('# Benchmark report');
    const again = await runDnb(['benchmark', 'report', run.dir, '--out', out]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already exists; choose another --out or pass --overwrite');
    const empty = await runDnb([
      'benchmark',
      'report',
      join(run.dir, 'images'),
      '--out',
      join(run.dir, 'x.html'),
    ]);
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain('holds no benchmark.db');
    expect(empty.stderr).not.toMatch(/\n\s+at /);
  });
});
