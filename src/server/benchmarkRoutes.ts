/**
 * The studio's Benchmarks view over one run folder: GET /api/benchmark (chart, table and grids, read from the
 * store on each request so a running benchmark shows its progress), /api/benchmark/status (the run's progress
 * alone, cheap), /api/benchmark/jobs/ID (an image's
 * parameters, trace summary and scores) and /api/benchmark/images/ID[?size=N] (the PNG, or a thumbnail).
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve, sep } from 'node:path';
import { selectImageGrids } from '../benchmark/report/imageGrids.ts';
import { loadReportInput } from '../benchmark/report/loadReportInput.ts';
import { reportContent } from '../benchmark/report/reportContent.ts';
import { methodLabel } from '../benchmark/report/reportInput.ts';
import { thumbnailPng } from '../benchmark/report/thumbnails.ts';
import { BENCHMARK_METRICS, METRIC_DESCRIPTIONS, METRIC_LABELS } from '../benchmark/scoreMetrics.ts';
import { BenchmarkStore, STORE_FILE } from '../benchmark/store.ts';
import { readPngTextChunks } from '../cli/pngTextChunks.ts';
import { UserError } from '../errors.ts';
import type { BenchmarkJobDetail, BenchmarkStatus, BenchmarkView } from './benchmarkProtocol.ts';
import { sendJson } from './httpIo.ts';

export interface BenchmarkRoutes {
  readonly dir: string;
  /** Answers the request if its path is under /api/benchmark; false otherwise. */
  handle(request: IncomingMessage, response: ServerResponse): Promise<boolean>;
  close(): void;
}

/**
 * Opens the run's store (a folder without one is refused here, before the server starts). `generation`: whether
 * the same server also has the generation page (a model loaded).
 */
export function createBenchmarkRoutes(dir: string, options: { generation?: boolean } = {}): BenchmarkRoutes {
  const store = BenchmarkStore.open(dir);
  const root = resolve(dir);
  // The view's bootstrap intervals take seconds on a full run: computed again only when the store has changed
  // (any write moves the database's or its write-ahead log's size or modification time).
  let cached: { key: string; view: Promise<BenchmarkView> } | undefined;
  const storeState = async () => {
    const files = [STORE_FILE, `${STORE_FILE}-wal`].map((name) => stat(join(dir, name)).catch(() => null));
    return (await Promise.all(files)).map((s) => (s ? `${s.mtimeMs}:${s.size}` : '-')).join(' ');
  };
  return {
    dir,
    async handle(request, response) {
      const url = new URL(request.url ?? '/', 'http://studio');
      const path = url.pathname;
      if (path !== '/api/benchmark' && !path.startsWith('/api/benchmark/')) return false;
      if (request.method !== 'GET') {
        response.setHeader('allow', 'GET');
        sendJson(response, 405, { error: 'use GET' });
        return true;
      }
      if (path === '/api/benchmark') {
        const key = `${await storeState()} ${url.searchParams}`;
        if (cached?.key !== key) cached = { key, view: benchmarkView(store, url.searchParams) };
        const view = cached.view;
        try {
          sendJson(response, 200, await view);
        } catch (error) {
          if (cached?.view === view) cached = undefined; // a bad query is not remembered
          throw error;
        }
        return true;
      }
      if (path === '/api/benchmark/status') {
        const status: BenchmarkStatus = {
          dir,
          model: store.settings().model,
          status: store.status(),
          generation: options.generation ?? false,
        };
        sendJson(response, 200, status);
        return true;
      }
      const match = /^\/api\/benchmark\/(jobs|images)\/(\d+)$/.exec(path);
      if (!match) {
        sendJson(response, 404, { error: `no such benchmark resource: ${path}` });
        return true;
      }
      const jobId = Number(match[2]);
      const result = store.results().find((r) => r.jobId === jobId);
      if (!result) {
        sendJson(response, 404, { error: `job ${jobId} has no image in ${dir}` });
        return true;
      }
      const file = resolve(root, ...result.imagePath.split('/'));
      // The store names the file; still refuse anything that would leave the run folder.
      if (!file.startsWith(root + sep))
        throw new UserError(`job ${jobId}'s image path leaves the run folder`);
      if (match[1] === 'images') {
        await sendImage(response, file, url.searchParams.get('size'));
      } else {
        sendJson(response, 200, await jobDetail(store, result, file));
      }
      return true;
    },
    close() {
      store.close();
    },
  };
}

async function benchmarkView(store: BenchmarkStore, query: URLSearchParams): Promise<BenchmarkView> {
  const count = (name: string, fallback: number) => {
    const text = query.get(name);
    if (text === null) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1 || value > 1000) {
      throw new UserError(`${name} must be a whole number from 1 to 1000, not ${JSON.stringify(text)}`);
    }
    return value;
  };
  const input = loadReportInput(store);
  const grid = { promptsPerSet: count('prompts', 6), seedsPerPrompt: count('seeds', 1) };
  const content = await reportContent(input, grid);
  return {
    dir: store.dir,
    model: store.settings().model,
    status: store.status(),
    sets: input.sets,
    methods: input.methods.map((name) => ({ name, label: methodLabel(name) })),
    metrics: content.summary.metrics.map((name) => ({
      name,
      label: METRIC_LABELS[name],
      description: METRIC_DESCRIPTIONS[name],
    })),
    chartSvg: content.chartSvg,
    table: content.table,
    grids: selectImageGrids(input, grid).map((g) => ({
      set: g.set,
      label: g.label,
      rows: g.rows.map((row) => ({
        promptId: row.promptId,
        prompt: row.prompt,
        seed: row.seed,
        jobIds: row.images.map((entry) => entry?.jobId ?? null),
      })),
    })),
  };
}

async function jobDetail(
  store: BenchmarkStore,
  result: ReturnType<BenchmarkStore['results']>[number],
  file: string,
): Promise<BenchmarkJobDetail> {
  const png = await readFile(file).catch(() => null);
  const texts = png ? readPngTextChunks(png) : [];
  const dnb = texts.find((t) => t.keyword === 'dnb');
  let parameters: Record<string, unknown> | null = null;
  try {
    parameters = dnb ? JSON.parse(dnb.text) : null;
  } catch {
    parameters = null; // a PNG edited by another tool: show what is left
  }
  const scores = BENCHMARK_METRICS.flatMap((metric) =>
    store
      .scoresFor(metric)
      .filter((s) => s.jobId === result.jobId)
      .map((s) => ({ metric, label: METRIC_LABELS[metric], value: s.value, detail: s.detail })),
  );
  return {
    jobId: result.jobId,
    set: result.setName,
    promptId: result.promptId,
    prompt: store.prompt(result.setName, result.promptId).text,
    method: result.method,
    seed: String(result.seed),
    imageUrl: `/api/benchmark/images/${result.jobId}`,
    imagePath: result.imagePath,
    parameters,
    parametersText: texts.find((t) => t.keyword === 'parameters')?.text ?? null,
    timings: result.timings,
    traceSummary: result.traceSummary,
    worker: result.worker,
    createdAt: result.createdAt,
    scores,
  };
}

async function sendImage(response: ServerResponse, file: string, size: string | null): Promise<void> {
  let body: Buffer | null;
  if (size === null) {
    body = await readFile(file).catch(() => null);
  } else {
    const pixels = Number(size);
    if (!Number.isInteger(pixels) || pixels < 8 || pixels > 2048) {
      throw new UserError(
        `size must be a whole number of pixels from 8 to 2048, not ${JSON.stringify(size)}`,
      );
    }
    body = (await thumbnailPng(file, pixels))?.png ?? null;
  }
  if (!body) {
    sendJson(response, 404, { error: `the image file is missing or unreadable: ${file}` });
    return;
  }
  response.writeHead(200, {
    'content-type': 'image/png',
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  response.end(body);
}
