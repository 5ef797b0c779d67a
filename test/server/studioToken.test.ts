import { createServer, request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import { guardAccess } from '../../src/server/accessGuard.ts';
import { type BenchmarkRoutes, createBenchmarkRoutes } from '../../src/server/benchmarkRoutes.ts';
import { createBenchmarkServer } from '../../src/server/benchmarkServer.ts';
import { createStudioServer, listen, modelLoadingHandler } from '../../src/server/studioServer.ts';
import { makeTestRun } from '../benchmark/reportRun.ts';
import { TINY_SD, tempDir } from '../helpers/fixtures.ts';

const TOKEN = 'a-studio-token-for-tests';

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
}

/** A GET with a Host header of our choosing (fetch() always sends the URL's own). */
function getWithHost(url: string, path: string, host: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((done, fail) => {
    const request = httpRequest({ hostname, port, path, headers: { host } }, (response) => {
      response.resume();
      done(response.statusCode ?? 0);
    });
    request.on('error', fail);
    request.end();
  });
}

describe('a studio started with a token', () => {
  let server: Server;
  let sd: StableDiffusion;
  let url: string;

  beforeAll(async () => {
    sd = await StableDiffusion.load(TINY_SD, { cacheDir: join(tempDir('dnb-token-'), 'cache'), threads: 1 });
    server = createStudioServer(sd, { token: TOKEN, host: '127.0.0.1' });
    url = await listen(server, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await stop(server);
    await sd.release();
  });

  it('refuses API calls without the token with 401 and a message that says where to find it', async () => {
    const response = await fetch(new URL('/api/info', url));
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toMatch(
      /needs its token: open the address printed when it started/,
    );
    const wrong = await fetch(new URL('/api/info', url), { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const almost = await fetch(new URL('/api/info', url), {
      headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
    });
    expect(almost.status).toBe(401);
  });

  it('answers API calls that carry the token as a bearer header', async () => {
    const response = await fetch(new URL('/api/info', url), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { model: string }).model).toBe(TINY_SD);
  });

  it('serves the page without the token, and the page opened with ?token= gets a cookie the API accepts', async () => {
    const plain = await fetch(url);
    expect(plain.status).toBe(200);
    expect(plain.headers.get('set-cookie')).toBeNull();
    expect((await fetch(new URL('/studio.css', url))).status).toBe(200);

    const opened = await fetch(new URL(`/?token=${TOKEN}`, url));
    expect(opened.status).toBe(200);
    const cookie = opened.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const pair = cookie.split(';')[0];
    const info = await fetch(new URL('/api/info', url), { headers: { cookie: pair } });
    expect(info.status).toBe(200);
    // A wrong token in the address sets no cookie.
    expect((await fetch(new URL('/?token=wrong', url))).headers.get('set-cookie')).toBeNull();
  });

  it('checks Host before the token: a foreign Host with the right token is still refused', async () => {
    const { port } = new URL(url);
    expect(await getWithHost(url, `/?token=${TOKEN}`, `evil.example:${port}`)).toBe(403);
  });
});

describe('the benchmark-only server', () => {
  let server: Server;
  let routes: BenchmarkRoutes;
  let url: string;

  beforeAll(async () => {
    const run = await makeTestRun();
    routes = createBenchmarkRoutes(run.dir);
    server = createBenchmarkServer(routes, { token: TOKEN, host: '127.0.0.1' });
    url = await listen(server, '127.0.0.1', 0);
  });
  afterAll(async () => {
    await stop(server);
    routes.close();
  });

  it('has the same Host check, content security policy and token', async () => {
    const { port } = new URL(url);
    expect(await getWithHost(url, '/benchmarks.html', `evil.example:${port}`)).toBe(403);
    const page = await fetch(new URL('/benchmarks.html', url));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect((await fetch(new URL('/api/benchmark', url))).status).toBe(401);
    const withToken = await fetch(new URL('/api/benchmark', url), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(withToken.status).toBe(200);
  });

  it('refuses a cross-origin POST', async () => {
    const response = await fetch(new URL('/api/benchmark', url), {
      method: 'POST',
      headers: { origin: 'http://evil.example', authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(403);
  });
});

describe('while the model loads', () => {
  it('the bound port answers 503 saying so, after the same checks', async () => {
    const server = createServer(guardAccess(modelLoadingHandler, { token: TOKEN }));
    const url = await listen(server, '127.0.0.1', 0);
    try {
      const response = await fetch(url);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(((await response.json()) as { error: string }).error).toBe(
        'the model is loading; reload the page in a few seconds',
      );
      expect((await fetch(new URL('/api/info', url))).status).toBe(401);
    } finally {
      await stop(server);
    }
  });
});
