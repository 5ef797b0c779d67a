import { join } from 'node:path';
import { transform } from 'esbuild';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  StudioEvent,
  StudioMethodResult,
  StudioTokensResponse,
} from '../../src/server/studioProtocol.ts';
import { GOLDEN } from '../helpers/fixtures.ts';
import { postGenerate, rawGet, type Studio, startStudio } from './studioClient.ts';

const PROMPT = 'a purple dog and a green crown';

const results = (events: StudioEvent[]) =>
  events.filter((e): e is Extract<StudioEvent, { type: 'result' }> => e.type === 'result');

async function decodePng(dataUrl: string) {
  expect(dataUrl.startsWith('data:image/png;base64,')).toBe(true);
  const png = Buffer.from(dataUrl.slice('data:image/png;base64,'.length), 'base64');
  return sharp(png).raw().toBuffer({ resolveWithObject: true });
}

/** The studio server on the tiny fixture model (64×64 images), over real HTTP on a random port. */
describe('dnb studio server', () => {
  let studio: Studio;

  beforeAll(async () => {
    studio = await startStudio();
  });
  afterAll(async () => {
    expect(studio.logged).toEqual([]);
    await studio?.close();
  });

  it('serves the page and its styles', async () => {
    const page = await fetch(studio.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="studio.ts">');
    const css = await fetch(new URL('/studio.css', studio.url));
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('serves the page script transpiled to JavaScript, types and type-only imports gone', async () => {
    for (const file of ['studio.ts', 'resultCard.ts', 'lossChart.ts']) {
      const script = await fetch(new URL(`/${file}`, studio.url));
      expect(script.status).toBe(200);
      expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      const code = await script.text();
      expect(code).not.toContain('import type');
      expect(code).not.toContain('studioProtocol');
      // Parses as plain JavaScript: any type annotation left behind would be a syntax error here.
      await expect(transform(code, { loader: 'js', format: 'esm' })).resolves.toBeDefined();
    }
  });

  it('refuses paths outside web/, raw or percent-encoded', async () => {
    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/%2E%2E%2Fpackage.json',
      '/..%2fpackage.json',
      '/x/../../package.json',
      '/%2e%2e%5cpackage.json',
      '/..%5c..%5cpackage.json',
      '/.%2e/src/errors.ts',
      '/%252e%252e/package.json',
    ]) {
      const { status, body } = await rawGet(studio.url, path);
      expect([403, 404], path).toContain(status);
      expect(body, path).not.toContain('divide-and-bind');
      expect(body, path).not.toContain('UserError');
    }
    expect((await rawGet(studio.url, '/tsconfig.json')).status).toBe(404);
    expect((await rawGet(studio.url, '/nothing.css')).status).toBe(404);
  });

  it("lists a prompt's tokens and the automatic choice", async () => {
    const response = await fetch(new URL(`/api/tokens?prompt=${encodeURIComponent(PROMPT)}`, studio.url));
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as StudioTokensResponse;
    expect(tokens.tokens.map((t) => `${t.index} ${t.token}`)).toEqual([
      '1 a',
      '2 purple',
      '3 dog',
      '4 and',
      '5 a',
      '6 green',
      '7 crown',
    ]);
    expect(tokens.endIndex).toBe(8);
    expect(tokens.automatic?.objects.map((t) => t.token)).toEqual(['dog', 'crown']);
    expect(tokens.automatic?.attributes.map((t) => t?.token)).toEqual(['purple', 'green']);
    const missing = await fetch(new URL('/api/tokens', studio.url));
    expect(missing.status).toBe(400);
  });

  it('generates sd and divide-bind side by side from one seed, with maps and losses in the trace', async () => {
    const body = { prompt: PROMPT, methods: ['sd', 'divide-bind'], seed: 7, steps: 3 };
    const first = await postGenerate(studio.url, body);
    expect(first.status).toBe(200);
    expect(first.events[0]).toEqual({ type: 'start', seed: 7, methods: ['sd', 'divide-bind'] });
    expect(first.events.at(-1)).toEqual({ type: 'done' });
    expect(first.events.filter((e) => e.type === 'error')).toEqual([]);
    const progress = first.events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);

    const [sd, dnb] = results(first.events);
    expect([sd.method, dnb.method]).toEqual(['sd', 'divide-bind']);
    const images = await Promise.all([sd, dnb].map((r) => decodePng(r.image)));
    for (const { info } of images) expect([info.width, info.height, info.channels]).toEqual([64, 64, 3]);
    expect(images[0].data.equals(images[1].data)).toBe(false);

    expect(sd.trace).toBeUndefined();
    const trace = dnb.trace!;
    expect(trace.objects.map((t) => t.token)).toEqual(['dog', 'crown']);
    expect(trace.attributes.map((t) => t?.token)).toEqual(['purple', 'green']);
    const r = dnb.mapResolution!;
    expect(r).toBeGreaterThan(0);
    expect(trace.steps.length).toBeGreaterThan(0);
    for (const step of trace.steps) {
      expect(step.maps).toHaveLength(trace.objects.length * r * r);
      expect(Number.isFinite(step.loss)).toBe(true);
      expect(step.losses.length).toBeGreaterThan(0);
      expect(step.maps!.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    }
  });

  it("generates the golden plain-SD image from the golden seed (torch's CPU generator, 50 PNDM steps)", async () => {
    // purple_dog_green_crown's initial latent is torch.randn with seed 2702; its PNG is diffusers' output.
    const run = await postGenerate(studio.url, { prompt: PROMPT, methods: ['sd'], seed: 2702, steps: 50 });
    const [sd] = results(run.events) as StudioMethodResult[];
    const image = await decodePng(sd.image);
    const reference = await sharp(join(GOLDEN, 'purple_dog_green_crown_sd.png')).raw().toBuffer();
    let worst = 0;
    for (let i = 0; i < reference.length; i++)
      worst = Math.max(worst, Math.abs(image.data[i] - reference[i]));
    // PNG levels can differ by 1 where a value sits on a rounding boundary (fixtures README).
    expect(worst).toBeLessThanOrEqual(1);
  }, 300_000);

  it('answers a bad token spec with 400 and the message, before generating', async () => {
    const { status, error, events } = await postGenerate(studio.url, {
      prompt: PROMPT,
      methods: ['sd', 'divide-bind'],
      seed: 1,
      steps: 3,
      tokens: { objects: ['cat'] },
    });
    expect(status).toBe(400);
    expect(events).toEqual([]);
    expect(error).toMatch(/^The object "cat" is not a word of the prompt/);
    expect(error).toContain('3 dog');
    expect(error).not.toMatch(/\n\s+at /);
  });

  it('answers malformed requests with 400 and a message that names the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ prompt: PROMPT, methods: ['dreambooth'] }, /unknown method "dreambooth"/],
      [{ prompt: PROMPT, methods: [] }, /methods must be a non-empty list/],
      [{ methods: ['sd'] }, /prompt must be a string/],
      [{ prompt: PROMPT, methods: ['sd'], steps: 0 }, /steps must be an integer from 1/],
      [{ prompt: PROMPT, methods: ['sd'], seed: -1 }, /seed must be an integer/],
      [{ prompt: PROMPT, methods: ['divide-bind'], tokens: { tokenIndices: [3, 99] } }, /index/],
    ];
    for (const [body, message] of cases) {
      const { status, error } = await postGenerate(studio.url, body);
      expect(status, JSON.stringify(body)).toBe(400);
      expect(error).toMatch(message);
    }
    const notJson = await fetch(new URL('/api/generate', studio.url), { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toBe('the request body is not valid JSON');
  });

  it('runs one generation at a time and says so', async () => {
    const body = { prompt: PROMPT, methods: ['sd'], seed: 1, steps: 3 };
    const [a, b] = await Promise.all([postGenerate(studio.url, body), postGenerate(studio.url, body)]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 409]);
    expect((a.status === 409 ? a : b).error).toMatch(/already running/);
  });
});
