/**
 * The studio page in a real browser (Debian's chromium through playwright-core), against the tiny model: it
 * loads cleanly, shows the three columns with their heatmaps, Cancel frees the server, and another site's
 * page cannot drive it. The studio runs with a token, so the page is opened the way `dnb studio` prints it.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import { createStudioServer, listen } from '../../src/server/studioServer.ts';
import { hasChromium, launchChromium, watchedPage } from '../helpers/chromium.ts';
import { TINY_SD, tempDir } from '../helpers/fixtures.ts';

const TOKEN = 'studio-page-test-token';

/** The part of a canvas the heatmap check reads (the tests compile without the DOM library). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
}

describe.skipIf(!hasChromium)('the studio page in chromium', () => {
  let sd: StableDiffusion;
  let studio: Server;
  let url: string;
  let browser: Browser;
  const logged: string[] = [];
  /** Every API answer the studio sent: method, path, Origin and status, seen from the server. */
  const answers: { method: string; path: string; origin?: string; status: number }[] = [];

  beforeAll(async () => {
    [sd, browser] = await Promise.all([
      StableDiffusion.load(TINY_SD, { cacheDir: join(tempDir('dnb-page-'), 'cache'), threads: 1 }),
      launchChromium(),
    ]);
    studio = createStudioServer(sd, { token: TOKEN, log: (text) => logged.push(text) });
    // A second listener only watches: it records each answer once it is sent.
    studio.on('request', (request, response) => {
      response.on('finish', () => {
        const path = (request.url ?? '/').split('?')[0];
        if (path.startsWith('/api/')) {
          answers.push({
            method: request.method ?? '',
            path,
            origin: request.headers.origin,
            status: response.statusCode,
          });
        }
      });
    });
    url = await listen(studio, '127.0.0.1', 0);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    if (studio) await stop(studio);
    await sd?.release();
  });

  /** The page opened as `dnb studio` prints it, with its console errors and outside requests recorded. */
  async function openStudio() {
    const watched = await watchedPage(browser, [new URL(url).origin]);
    await watched.page.goto(`${url}?token=${TOKEN}`);
    await expect.poll(() => watched.page.locator('#model').textContent()).toContain('tiny-sd');
    return watched;
  }

  it('loads with no console errors and lists the prompt tokens', async () => {
    const { page, errors, externalRequests } = await openStudio();
    await expect.poll(() => page.locator('#tokens').textContent()).toContain('dog');
    expect(errors).toEqual([]);
    expect(externalRequests).toEqual([]);
    await page.close();
  }, 30_000);

  it('a generation shows the three columns, the guided ones with their heatmaps', async () => {
    const { page, errors } = await openStudio();
    for (const method of ['sd', 'attend-excite', 'divide-bind']) {
      await page.check(`input[name=method][value=${method}]`);
    }
    await page.fill('#steps', '3');
    await page.fill('#seed', '7');
    await page.click('#generate');
    await expect
      .poll(() => page.locator('#status').textContent(), { timeout: 45_000, interval: 250 })
      .toMatch(/Done in/);
    const cards = page.locator('#results .card');
    expect(await cards.count()).toBe(3);
    expect(await page.locator('#results .card.pending').count()).toBe(0);
    expect(await page.locator('#results .result-image').count()).toBe(3);
    const titles = await page.locator('#results .card h2').allTextContents();
    expect(titles).toHaveLength(3);
    // Plain SD has no trace; each guided column has one heatmap per object token (dog, crown).
    expect(await cards.nth(0).locator('.heatmaps canvas').count()).toBe(0);
    for (const k of [1, 2]) {
      const canvases = cards.nth(k).locator('.heatmaps canvas');
      expect(await canvases.count(), titles[k]).toBe(2);
      // Drawn, not blank: some pixel has colour.
      const painted = await canvases.first().evaluate((element) => {
        const canvas = element as unknown as CanvasLike;
        const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
        return Array.from(pixels).some((value, i) => i % 4 !== 3 && value > 0);
      });
      expect(painted, titles[k]).toBe(true);
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('Cancel stops a run: the page says so and the server takes the next one at once', async () => {
    const { page, errors } = await openStudio();
    await page.uncheck('input[name=method][value=divide-bind]');
    await page.uncheck('input[name=method][value=attend-excite]');
    await page.check('input[name=method][value=sd]');
    await page.fill('#steps', '500');
    await page.click('#generate');
    // 500 steps take minutes on one thread; wait for the run to be under way, then cancel it.
    await expect
      .poll(() => page.locator('.card.pending').textContent(), { timeout: 20_000 })
      .toMatch(/step \d+ of \d+/);
    await page.click('#cancel');
    await expect.poll(() => page.locator('#status').textContent()).toContain('Cancelled.');
    expect(await page.locator('#cancel').isHidden()).toBe(true);
    // The slot is free within a UNet pass or two: a short run from the same page is answered, not 409.
    const started = Date.now();
    let status = 409;
    while (status === 409 && Date.now() - started < 15_000) {
      status = await page.evaluate(async () => {
        const response = await fetch('/api/generate', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'a dog', methods: ['sd'], seed: 1, steps: 2 }),
        });
        await response.text();
        return response.status;
      });
    }
    expect(status).toBe(200);
    expect(logged.join('')).toContain('studio: generation cancelled: the client went away');
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it("another site's page cannot POST a generation, even a text/plain one that needs no preflight", async () => {
    const studioOrigin = new URL(url).origin;
    // The other site: a page on another local port that tries to start a generation on the studio.
    const evil = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end(`<!doctype html><script>
        fetch(${JSON.stringify(`${studioOrigin}/api/generate`)}, {
          method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' },
          body: JSON.stringify({ prompt: 'a dog', methods: ['sd'], seed: 1, steps: 2 }),
        }).finally(() => { document.title = 'sent'; });
      </script>`);
    });
    const evilUrl = await listen(evil, '127.0.0.1', 0);
    try {
      // The user opened the studio first, so the browser holds its token cookie.
      const { page: studioPage } = await openStudio();
      const before = answers.length;
      const { page } = await watchedPage(browser);
      await page.goto(evilUrl);
      await expect.poll(() => page.title()).toBe('sent');
      await expect.poll(() => answers.length).toBeGreaterThan(before);
      const sent = answers.slice(before).filter((answer) => answer.path === '/api/generate');
      expect(sent).toEqual([
        { method: 'POST', path: '/api/generate', origin: new URL(evilUrl).origin, status: 403 },
      ]);
      await page.close();
      await studioPage.close();
    } finally {
      await stop(evil);
    }
  }, 30_000);
});
