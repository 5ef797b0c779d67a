import { rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import type {
  BenchmarkJobDetail,
  BenchmarkStatus,
  BenchmarkView,
} from '../../src/server/benchmarkProtocol.ts';
import { type BenchmarkRoutes, createBenchmarkRoutes } from '../../src/server/benchmarkRoutes.ts';
import { createBenchmarkServer } from '../../src/server/benchmarkServer.ts';
import { createStudioServer, listen } from '../../src/server/studioServer.ts';
import { makeTestRun, type TestRun } from '../benchmark/reportRun.ts';
import { hasChromium, launchChromium, watchedPage } from '../helpers/chromium.ts';
import { TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { userErrorOf } from '../helpers/userError.ts';

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
}

/** `dnb studio --benchmark DIR`: the Benchmarks view over a run, on a free local port. */
describe('studio Benchmarks view', () => {
  let run: TestRun;
  let routes: BenchmarkRoutes;
  let server: Server;
  let url: string;
  const logged: string[] = [];

  beforeAll(async () => {
    run = await makeTestRun();
    routes = createBenchmarkRoutes(run.dir);
    server = createBenchmarkServer(routes, { log: (text) => logged.push(text) });
    url = await listen(server, '127.0.0.1', 0);
  });
  afterAll(async () => {
    if (server) await stop(server);
    routes?.close();
    if (run) await rm(run.dir, { recursive: true, force: true });
    expect(logged).toEqual([]);
  });

  it('refuses a folder without a run before serving anything', async () => {
    const error = await userErrorOf(
      Promise.resolve().then(() => createBenchmarkRoutes(join(run.dir, 'images'))),
    );
    expect(error.message).toContain('holds no benchmark.db');
  });

  it('serves the run: chart, table, grids by job id, and the run status', async () => {
    const status = (await (await fetch(new URL('/api/benchmark/status', url))).json()) as BenchmarkStatus;
    expect(status).toMatchObject({ model: 'tiny-test-model', generation: false });
    expect(status.status).toMatchObject({ expected: 36, done: 35, failed: 1, pending: 0, duplicates: 0 });

    const response = await fetch(new URL('/api/benchmark?prompts=2&seeds=3', url));
    expect(response.status).toBe(200);
    const view = (await response.json()) as BenchmarkView;
    expect(view.methods.map((m) => m.label)).toEqual(['SD', 'A&E', 'D&B']);
    expect(view.metrics.map((m) => m.name)).toEqual(['clip-full', 'clip-min-half', 'tifa']);
    expect(view.chartSvg.match(/aria-roledescription="bar"/g)).toHaveLength(15);
    expect(view.table[0]).toMatchObject({ metric: 'Full prompt similarity', set: 'Animal-Animal' });
    expect(view.table[0].cells[0]?.value).toBe('0.3100');
    expect(view.grids.map((g) => g.rows.length)).toEqual([6, 6]); // 2 prompts × 3 seeds per set
    const lastRow = view.grids[1].rows.at(-1)!;
    expect([lastRow.promptId, lastRow.seed]).toEqual(['a-green-bench-and-a-pink-clock', '2']);
    expect(lastRow.jobIds[2]).toBeNull(); // the failed D&B job
    expect(lastRow.jobIds[0]).toBe(run.jobIds.get('color-object/a-green-bench-and-a-pink-clock/sd/2'));

    const bad = await fetch(new URL('/api/benchmark?prompts=0', url));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('prompts must be a whole number');
  });

  it("gives an image's parameters from its PNG, its trace summary and scores, and the image itself", async () => {
    const jobId = run.jobIds.get('animal-animal/a-cat-and-a-dog/divide-bind/1')!;
    const detail = (await (
      await fetch(new URL(`/api/benchmark/jobs/${jobId}`, url))
    ).json()) as BenchmarkJobDetail;
    expect(detail).toMatchObject({
      set: 'animal-animal',
      prompt: 'a cat and a dog',
      method: 'divide-bind',
      seed: '1',
    });
    expect(detail.parameters).toMatchObject({
      prompt: 'a cat and a dog',
      method: 'divide-bind',
      seed: 1,
      steps: 3,
    });
    expect(detail.parametersText).toContain('Steps: 3, Sampler: PNDM');
    expect(detail.traceSummary?.map((s) => s.capHit)).toEqual([false, true]);
    expect(detail.scores.map((s) => [s.metric, s.value])).toEqual([
      ['clip-full', 0.3 + 0.01 + 0.04],
      ['clip-min-half', 0.2 + 0.04],
      ['tifa', 1],
    ]);

    const image = await fetch(new URL(detail.imageUrl, url));
    expect(image.headers.get('content-type')).toBe('image/png');
    const full = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
    expect([full.width, full.height]).toEqual([64, 64]);
    const small = await fetch(new URL(`${detail.imageUrl}?size=16`, url));
    const thumbnail = await sharp(Buffer.from(await small.arrayBuffer())).metadata();
    expect([thumbnail.width, thumbnail.height]).toEqual([16, 16]);

    expect((await fetch(new URL('/api/benchmark/jobs/99999', url))).status).toBe(404);
    expect((await fetch(new URL('/api/benchmark/images/abc', url))).status).toBe(404);
    expect((await fetch(new URL('/api/generate', url), { method: 'POST' })).status).toBe(404);
    const root = await fetch(url, { redirect: 'manual' });
    expect([root.status, root.headers.get('location')]).toEqual([302, '/benchmarks.html']);
  });

  it.skipIf(!hasChromium)(
    'shows the chart, table and grids in chromium, and opens an image with its parameters and trace',
    async () => {
      const browser = await launchChromium();
      try {
        const origin = new URL(url).origin;
        const { page, errors, externalRequests } = await watchedPage(browser, [origin]);
        await page.setViewportSize({ width: 1280, height: 900 });
        await page.goto(new URL('/benchmarks.html', url).href);
        await expect.poll(() => page.locator('#chart svg .bars_marks path').count()).toBe(15);
        expect(await page.locator('#results-table tbody tr').count()).toBe(5);
        const images = page.locator('.image-grid img');
        await expect.poll(() => images.count()).toBe(12); // 2 sets × 2 prompts × 3 methods, seed 0
        await expect
          .poll(() =>
            images.evaluateAll((all) =>
              all.every((img) => (img as unknown as { naturalWidth: number }).naturalWidth === 64),
            ),
          )
          .toBe(true);
        expect(await page.locator('#studio-link').isHidden()).toBe(true);

        // One set only.
        await page.selectOption('#grid-set', 'color-object');
        expect(await page.locator('.set-grid').count()).toBe(1);
        expect(await page.locator('.image-grid img').count()).toBe(6);

        // A D&B image: its parameters from the PNG's dnb chunk, and its trace summary with the cap hit.
        await page.locator('.image-grid button').nth(2).click();
        const detail = page.locator('#detail');
        await expect.poll(() => detail.isVisible()).toBe(true);
        await expect.poll(() => page.locator('#detail-body h2').textContent()).toBe('D&B · seed 0');
        const text = (await page.locator('#detail-body').textContent()) ?? '';
        expect(text).toContain('a red car and a blue bowl');
        expect(text).toContain('Generation parameters');
        expect(text).toContain('guidanceScale7.5');
        expect(await page.locator('#detail-body table.trace tr').count()).toBe(3); // header + 2 guided steps
        expect(await page.locator('#detail-body tr.cap-hit').count()).toBe(1);
        await page.click('#detail-close');
        expect(await detail.isHidden()).toBe(true);

        expect(errors).toEqual([]);
        expect(externalRequests).toEqual([]);
        await page.close();
      } finally {
        await browser.close();
      }
    },
  );
});

describe('studio Benchmarks view over a store that changes', () => {
  it('shows new scores as soon as the store has them (the cached view is dropped)', async () => {
    const run = await makeTestRun();
    const routes = createBenchmarkRoutes(run.dir);
    const server = createBenchmarkServer(routes);
    try {
      const url = await listen(server, '127.0.0.1', 0);
      const get = async () => (await (await fetch(new URL('/api/benchmark', url))).json()) as BenchmarkView;
      const before = await get();
      expect((await get()).table).toEqual(before.table);
      expect(before.metrics.map((m) => m.name)).not.toContain('text-text');
      const store = BenchmarkStore.open(run.dir);
      try {
        store.recordScore(run.jobIds.get('animal-animal/a-cat-and-a-dog/sd/0')!, 'text-text', 0.5, {
          caption: 'a cat',
        });
      } finally {
        store.close();
      }
      const after = await get();
      expect(after.metrics.map((m) => m.name)).toContain('text-text');
      expect(after.table.find((row) => row.metric === 'Text-text similarity')?.cells[0]?.value).toBe(
        '0.5000',
      );
    } finally {
      await stop(server);
      routes.close();
      await rm(run.dir, { recursive: true, force: true });
    }
  });
});

describe('studio with a model and --benchmark', () => {
  it('names the run in /api/info and serves the Benchmarks view beside generation', async () => {
    const run = await makeTestRun();
    const sd = await StableDiffusion.load(TINY_SD, {
      cacheDir: join(tempDir('dnb-studio-'), 'cache'),
      threads: 1,
    });
    const routes = createBenchmarkRoutes(run.dir, { generation: true });
    const server = createStudioServer(sd, { benchmark: routes });
    try {
      const url = await listen(server, '127.0.0.1', 0);
      const info = (await (await fetch(new URL('/api/info', url))).json()) as { benchmark: string };
      expect(info.benchmark).toBe(run.dir);
      const status = (await (await fetch(new URL('/api/benchmark/status', url))).json()) as BenchmarkStatus;
      expect(status.generation).toBe(true);
      expect((await fetch(new URL('/api/benchmark', url))).status).toBe(200);
      expect((await fetch(new URL('/benchmarks.html', url))).status).toBe(200);
    } finally {
      await stop(server);
      routes.close();
      await sd.release();
      await rm(run.dir, { recursive: true, force: true });
    }
  });
});
