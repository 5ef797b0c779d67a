import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuidanceMethod } from '../../src/guidance/settings.ts';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import { GOLDEN, golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { officialLosses, type PromptRuns, portLosses, refinements } from '../helpers/officialLog.ts';
import { stableGsn } from '../helpers/stableRuns.ts';
import { expectClose } from '../helpers/tensors.ts';

const phases = JSON.parse(readFileSync(join(GOLDEN, 'phases_manifest.json'), 'utf8')) as {
  prompts: PromptRuns[];
};

let sd: StableDiffusion;
beforeAll(async () => {
  sd = await StableDiffusion.load(TINY_SD, { cacheDir: tempDir(), threads: 1 });
});
afterAll(() => sd.release());

const RUNS: Record<string, { method: GuidanceMethod; thresholds: number; binding: boolean }> = {
  ae: { method: 'attend-excite', thresholds: 0.9, binding: false },
  dnb_tv: { method: 'divide-bind', thresholds: 0.5, binding: false },
  dnb_tv_bind: { method: 'divide-bind', thresholds: 0.5, binding: true },
};

/**
 * The stable full runs (fixtures README): 20 PNDM steps, scale factor 3, updates at loop indices 0..9,
 * refinement at 0 and 10 capped at 3 — every part of the guided loop runs, and float32 and float64 official runs
 * agree, so the port must too: final latents within 1e-3 of max |ref| (2e-3 for A&E), refinement counts exact,
 * every loss within 1e-3 relative.
 */
describe.each(phases.prompts)('stable guided runs on $key', (prompt) => {
  for (const [name, { method, thresholds, binding }] of Object.entries(RUNS)) {
    if (prompt.stable[name]?.copied_from) continue;
    it(name, async () => {
      const { images } = await sd.generate({
        prompt: prompt.prompt,
        method,
        latents: await golden(`${prompt.key}_phases`, 'stable/init_latent'),
        steps: 20,
        tokens: {
          tokenIndices: prompt.token_indices,
          attributeIndices: binding && prompt.color_indices ? prompt.color_indices : undefined,
        },
        gsn: stableGsn(thresholds),
      });
      const trace = images[0].trace!;
      expect(refinements(trace)).toEqual([
        { i: 0, iterations: 3 },
        { i: 10, iterations: 3 },
      ]);
      const guided = (i: number) => i < 10 || i === 10;
      expectClose(portLosses(trace), officialLosses(prompt.stable[name], guided), 1e-3, 1e-6);
      const expected = await golden(`${prompt.key}_phases`, `stable/${name}/final_latents`);
      expectClose(images[0].latents, expected, method === 'attend-excite' ? 2e-3 : 1e-3);
    });
  }
});
