import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bindingWeight } from '../../src/guidance/binding.ts';
import { gsnPhase } from '../../src/guidance/gsnPhase.ts';
import { GuidanceGraph } from '../../src/guidance/guidanceGraph.ts';
import { defaultSettings } from '../../src/guidance/settings.ts';
import { loadUNet, type UNet2DConditionModel } from '../../src/models/unet/index.ts';
import { GOLDEN, golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { expectClose, maxAbs } from '../helpers/tensors.ts';

interface LossCall {
  in_refinement: boolean;
  loss: number;
}
interface Phase {
  loop_index: number;
  timestep: number;
  step_size: number;
  loss_calls: LossCall[];
  refinement_iterations: number;
  refinement_triggered: boolean;
  cap_hit: boolean;
  stable: boolean | null;
}
interface MethodPhases {
  phases?: Record<string, Phase>;
  copied_from?: string;
}
interface PhasesPrompt {
  key: string;
  token_indices: number[];
  color_indices: number[] | null;
  phases: Record<'ae' | 'dnb_tv' | 'dnb_tv_bind', MethodPhases>;
}

const manifest = JSON.parse(readFileSync(join(GOLDEN, 'phases_manifest.json'), 'utf8')) as {
  prompts: PhasesPrompt[];
};
const cacheDir = tempDir();
let unet: UNet2DConditionModel;
beforeAll(async () => {
  unet = await loadUNet(TINY_SD);
});

const METHODS = {
  ae: { method: 'attend-excite', binding: false },
  dnb_tv: { method: 'divide-bind', binding: false },
  dnb_tv_bind: { method: 'divide-bind', binding: true },
} as const;

/**
 * Teacher-forced GSN phases (fixtures README, "Tight GSN goldens"): from the official run's latent entering
 * loop index i, the whole phase (loss pass, refinement, update) must give the official latent, with the same
 * refinement count, cap hit and loss log. Tolerances from the README: latent_out within 1e-3 of max |ref| (1e-4
 * without refinement; float32-vs-float64 of the reference itself reaches 1.4e-4), losses 1e-3 relative or
 * 1e-6 absolute. The official code evaluates the unchanged latent twice when refinement starts; the port reuses
 * that evaluation, so the official log's duplicate entry is dropped before comparing.
 */
for (const prompt of manifest.prompts) {
  for (const [name, { method, binding }] of Object.entries(METHODS)) {
    const phases = prompt.phases[name as keyof typeof METHODS].phases;
    if (!phases) continue; // tv_bind without colours is the tv run, stored as a copy
    describe(`${prompt.key} ${name}`, () => {
      for (const [label, phase] of Object.entries(phases)) {
        it(`phase ${label}: latent, refinement and losses`, async () => {
          const graph = await GuidanceGraph.compile(
            unet,
            {
              method,
              tv: 'official',
              objects: prompt.token_indices.length,
              binding: binding && prompt.color_indices !== null,
              attentionRes: 16,
              height: 32,
              width: 32,
              keys: 77,
            },
            { cacheDir, threads: 1 },
          );
          const text = await golden(prompt.key, 'prompt_embeds');
          const tokens = {
            objects: prompt.token_indices,
            attributes: prompt.color_indices ?? prompt.token_indices.map(() => 0),
          };
          const evaluate = (latent: Float32Array, i: number) =>
            graph.evaluate(latent, phase.timestep, text, tokens, bindingWeight(i));
          const file = `${prompt.key}_phases`;
          const latentIn = await golden(file, `phase/${name}/${label}/latent_in`);
          const { latent, report } = await gsnPhase(
            latentIn,
            phase.loop_index,
            phase.step_size,
            defaultSettings(method),
            evaluate,
          );
          await graph.release();

          const official = phase.loss_calls.map((c) => c.loss);
          if (phase.refinement_triggered) official.splice(1, 1);
          const compared = phase.stable === false ? 1 : official.length;
          expectClose(report.losses.slice(0, compared), official.slice(0, compared), 1e-3, 1e-6);
          if (phase.stable === false) return;
          expect(report.refinement?.iterations ?? 0).toBe(phase.refinement_iterations);
          expect(report.refinement?.capHit ?? false).toBe(phase.cap_hit);
          const expected = await golden(file, `phase/${name}/${label}/latent_out`);
          expectClose(latent, expected, phase.refinement_triggered ? 1e-3 : 1e-4);
          expect(maxAbs(latent)).toBeGreaterThan(0);
        });
      }
    });
  }
}
