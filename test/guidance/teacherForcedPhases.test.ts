import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { gsnPhase } from '../../src/guidance/gsnPhase.ts';
import { GuidanceGraph } from '../../src/guidance/guidanceGraph.ts';
import { defaultSettings } from '../../src/guidance/settings.ts';
import { loadUNet, type UNet2DConditionModel } from '../../src/models/unet/index.ts';
import { GOLDEN, golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { expectClose, maxAbs } from '../helpers/tensors.ts';
import { expectEachLossClose } from '../pipeline/lossLog.ts';

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
 * refinement count, cap hit and loss log (each loss against its own value). The official code evaluates the
 * unchanged latent twice when refinement starts; the port reuses that evaluation, so the official log's
 * duplicate entry is dropped before comparing.
 */
// About 10× the measured error over the 35 phases: each loss ≤ 5.1e-6 of itself; latent_out ≤ 6.1e-7 of max |ref|
// after a refinement, ≤ 5.8e-6 without one (the README's 1e-3 and 1e-4 are for any float32 implementation).
const LOSS_REL = 5e-5;
const REFINED_TOLERANCE = 6e-6;
const PLAIN_TOLERANCE = 6e-5;

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
              finerLayers: binding && prompt.color_indices !== null,
              attentionRes: 16,
              height: 32,
              width: 32,
              keys: 77,
              scaledInput: false,
            },
            { cacheDir, threads: 1 },
          );
          const text = await golden(prompt.key, 'prompt_embeds');
          const tokens = {
            objects: prompt.token_indices,
            attributes: prompt.color_indices ?? prompt.token_indices.map(() => 0),
          };
          const evaluate = (latent: Float32Array, i: number) =>
            graph.evaluate(latent, phase.timestep, { encoder_hidden_states: text }, tokens, i);
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
          expectEachLossClose(report.losses.slice(0, compared), official.slice(0, compared), LOSS_REL, 1e-9);
          if (phase.stable === false) return;
          expect(report.refinement?.iterations ?? 0).toBe(phase.refinement_iterations);
          expect(report.refinement?.capHit ?? false).toBe(phase.cap_hit);
          const expected = await golden(file, `phase/${name}/${label}/latent_out`);
          expectClose(latent, expected, phase.refinement_triggered ? REFINED_TOLERANCE : PLAIN_TOLERANCE);
          expect(maxAbs(latent)).toBeGreaterThan(0);
        });
      }
    });
  }
}
