import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadReportInput } from '../../src/benchmark/report/loadReportInput.ts';
import { writeReport } from '../../src/benchmark/report/writeReport.ts';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { hasChromium, launchChromium, watchedPage } from '../helpers/chromium.ts';
import { makeTestRun, type TestRun } from './reportRun.ts';

/** The fields of a DOM image the test reads (the tests' tsconfig has no DOM library). */
interface LoadedImage {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}

/** The HTML report as a reader sees it, in Debian's chromium: what is drawn, and that it fetches nothing. */
describe.skipIf(!hasChromium)('benchmark report in a browser', () => {
  let run: TestRun;
  let browser: Browser;
  let reportUrl: string;

  beforeAll(async () => {
    run = await makeTestRun();
    const store = BenchmarkStore.open(run.dir);
    const input = loadReportInput(store);
    store.close();
    const out = join(run.dir, 'report.html');
    await writeReport(input, out);
    reportUrl = pathToFileURL(out).href;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    if (run) await rm(run.dir, { recursive: true, force: true });
  });

  it('draws every bar and grid image, with no console errors and no network requests', async () => {
    const { page, errors, externalRequests } = await watchedPage(browser, [reportUrl]);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(reportUrl, { waitUntil: 'load' });

    const bars = page.locator('svg .bars_marks path');
    expect(await bars.count()).toBe(15);
    for (const box of await Promise.all((await bars.all()).map((bar) => bar.boundingBox()))) {
      expect(box!.width).toBeGreaterThan(5);
      expect(box!.height).toBeGreaterThan(5);
    }
    // Every bar has its interval drawn.
    expect(
      await page.locator('svg [class*="intervals"] path, svg [class*="intervals"] line').count(),
    ).toBeGreaterThan(0);
    await expect.poll(() => page.locator('svg .changes_marks text').allTextContents()).toContain('+6.5%');

    const images = page.locator('table.grid img');
    expect(await images.count()).toBe(12);
    for (const image of await images.all()) {
      await image.scrollIntoViewIfNeeded();
      expect(await image.isVisible()).toBe(true);
      const size = await image.evaluate((img: LoadedImage) => [
        img.complete,
        img.naturalWidth,
        img.naturalHeight,
      ]);
      expect(size).toEqual([true, 64, 64]);
    }
    expect(await page.locator('table.results tbody tr').count()).toBe(5); // 2 + 1 + 2 metric × set rows
    expect(errors).toEqual([]);
    expect(externalRequests).toEqual([]);
    await page.close();
  });
});
