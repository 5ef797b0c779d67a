import { request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import { createStudioServer, listen } from '../../src/server/studioServer.ts';
import { TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { postGenerate } from './studioClient.ts';

const PROMPT = 'a purple dog and a green crown';

/** A raw HTTP request with the headers exactly as given (fetch() would not send a foreign Host). */
function rawRequest(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((done, fail) => {
    const request = httpRequest(
      {
        hostname,
        port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: options.headers,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          done({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    request.on('error', fail);
    request.end(options.body);
  });
}

describe('the studio only serves its own page and user', () => {
  let server: Server;
  let sd: StableDiffusion;
  let url: string;
  const logged: string[] = [];

  beforeAll(async () => {
    sd = await StableDiffusion.load(TINY_SD, {
      cacheDir: join(tempDir('dnb-studio-sec-'), 'cache'),
      threads: 1,
    });
    server = createStudioServer(sd, { log: (text) => logged.push(text), bodyTimeoutMs: 1000 });
    url = await listen(server, '127.0.0.1', 0);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    await sd.release();
  });

  it('sends a content security policy with the page', async () => {
    const page = await fetch(url);
    expect(page.status).toBe(200);
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("frame-ancestors 'none'");
  });

  it('refuses a cross-site text/plain POST (no preflight needed) with 403, generating nothing', async () => {
    const { port } = new URL(url);
    const response = await rawRequest(url, {
      method: 'POST',
      path: '/api/generate',
      headers: {
        host: `127.0.0.1:${port}`,
        origin: 'http://evil.example',
        'content-type': 'text/plain',
      },
      body: JSON.stringify({ prompt: PROMPT, methods: ['sd'], steps: 2 }),
    });
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body).error).toMatch(/requests from http:\/\/evil\.example are refused/);
  });

  it('refuses a foreign Host (DNS rebinding) and accepts the localhost forms and its own origin', async () => {
    const { port } = new URL(url);
    const foreign = await rawRequest(url, { headers: { host: `evil.example:${port}` } });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body).error).toMatch(/Host "evil\.example:\d+" is not this studio/);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const ok = await rawRequest(url, { path: '/api/info', headers: { host, origin: `http://${host}` } });
      expect(ok.status, host).toBe(200);
    }
    expect((await rawRequest(url, { headers: { host: '127.0.0.1:1' } })).status).toBe(403);
  });

  it('a body that never arrives holds no slot and gets 408 after the read timeout', async () => {
    const { hostname, port } = new URL(url);
    const stalled = new Promise<number>((done, fail) => {
      const request = httpRequest(
        {
          hostname,
          port,
          path: '/api/generate',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': '100' },
        },
        (response) => {
          response.resume();
          done(response.statusCode ?? 0);
        },
      );
      request.on('error', fail);
      request.write('{"prompt":'); // and nothing more
    });
    const meanwhile = await postGenerate(url, { prompt: PROMPT, methods: ['sd'], seed: 1, steps: 2 });
    expect(meanwhile.status).toBe(200);
    expect(await stalled).toBe(408);
  }, 60_000);

  it('a client that goes away cancels its generation, so the next one starts at once', async () => {
    const controller = new AbortController();
    const long = await fetch(new URL('/api/generate', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: PROMPT, methods: ['sd'], seed: 1, steps: 500 }),
      signal: controller.signal,
    });
    expect(long.status).toBe(200);
    const reader = long.body!.getReader();
    let text = '';
    while (!text.includes('"progress"')) {
      const { value, done } = await reader.read();
      expect(done, text).toBe(false);
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    // 500 steps would hold the slot for minutes; cancelled, it is free within a UNet pass or two.
    const started = Date.now();
    let next = await postGenerate(url, { prompt: PROMPT, methods: ['sd'], seed: 1, steps: 2 });
    while (next.status === 409 && Date.now() - started < 20_000) {
      await new Promise((done) => setTimeout(done, 200));
      next = await postGenerate(url, { prompt: PROMPT, methods: ['sd'], seed: 1, steps: 2 });
    }
    expect(next.status).toBe(200);
    expect(next.events.at(-1)?.type).toBe('done');
    expect(logged.join('')).toContain('studio: generation cancelled: the client went away');
  }, 60_000);

  it('answers a request while busy with 409 saying what to do', async () => {
    const body = { prompt: PROMPT, methods: ['sd'], seed: 1, steps: 3 };
    const [a, b] = await Promise.all([postGenerate(url, body), postGenerate(url, body)]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect((a.status === 409 ? a : b).error).toMatch(
      /already running \(for \d+ s\).*wait for it to finish or press Cancel/,
    );
  }, 60_000);
});
