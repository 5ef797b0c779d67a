import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudioEvent, StudioInfo } from '../../src/server/studioProtocol.ts';
import { TINY_SDXL } from '../helpers/sdxlFixtures.ts';
import { postGenerate, type Studio, startStudio } from './studioClient.ts';

/** The studio on the tiny SDXL pipeline: its family and the registry's methods in /api/info, and a guided run. */
describe('dnb studio on SDXL', () => {
  let studio: Studio;
  beforeAll(async () => {
    studio = await startStudio(TINY_SDXL);
  });
  afterAll(async () => {
    expect(studio.logged).toEqual([]);
    await studio?.close();
  });

  it('names the family, its size and the methods of the registry', async () => {
    const info = (await (await fetch(new URL('/api/info', studio.url))).json()) as StudioInfo;
    expect(info.family).toBe('SDXL');
    expect([info.height, info.width]).toEqual([128, 128]);
    expect(info.methods).toEqual([
      { name: 'sd', label: 'Stable Diffusion' },
      { name: 'attend-excite', label: 'Attend & Excite' },
      { name: 'divide-bind', label: 'Divide & Bind' },
    ]);
  });

  it('generates plain SDXL and Divide & Bind side by side, with the maps of the guided steps', async () => {
    const { status, events } = await postGenerate(studio.url, {
      prompt: 'a red book and a yellow vase',
      methods: ['sd', 'divide-bind'],
      seed: 3,
      steps: 2,
    });
    expect(status).toBe(200);
    const results = events.filter((e): e is Extract<StudioEvent, { type: 'result' }> => e.type === 'result');
    expect(results.map((r) => [r.method, r.width, r.height])).toEqual([
      ['sd', 128, 128],
      ['divide-bind', 128, 128],
    ]);
    const guided = results[1];
    expect(guided.mapResolution).toBe(16);
    expect(guided.trace?.objects.map((t) => t.token)).toEqual(['book', 'vase']);
    expect(guided.trace?.steps[0].maps?.length).toBe(2 * 16 * 16);
  });
});
