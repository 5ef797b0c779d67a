/**
 * Debian's chromium driven by playwright-core (Playwright cannot download its own browsers here). Tests that
 * need it skip when /usr/bin/chromium is missing; CHROMIUM_PATH points elsewhere.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // No sandbox: test containers run as root, where chromium refuses to start with it.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 30_000,
  });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught page errors, in order. */
  errors: string[];
  /** Every request the page made that is not to a data: URL and does not start with one of `allowed`. */
  externalRequests: string[];
}

/**
 * A new page that records console errors, page errors and requests, for "no errors, no network" checks;
 * `allowed` holds URL prefixes that do not count (the page's own file or server).
 */
export async function watchedPage(browser: Browser, allowed: readonly string[] = []): Promise<WatchedPage> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const externalRequests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:') || allowed.some((prefix) => url.startsWith(prefix))) return;
    externalRequests.push(url);
  });
  return { page, errors, externalRequests };
}
