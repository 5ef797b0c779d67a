import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RawSchedulerConfig } from '../../src/schedulers/index.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';

/** Fixtures written by test/fixtures/schedulers/make_fixtures.py from the shared golden set. */
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'schedulers');

export const PROMPTS = ['purple_dog_green_crown', 'three_geese', 'cat_frog'] as const;

export interface GoldenSchedulerRun {
  class: string;
  config: Record<string, unknown>;
  timesteps: number[];
  init_noise_sigma: number;
}

export interface GoldenSchedulers {
  pndm: { config: Record<string, unknown>; timesteps: number[] };
  pndm_20_steps_timesteps: number[];
  prompts: Record<string, Record<'ddim' | 'euler' | 'dpmpp2m', GoldenSchedulerRun>>;
}

export interface NumpyReferenceCase {
  kind: 'euler' | 'dpm++';
  steps: number;
  timestep_spacing: string;
  karras: boolean;
  timesteps: number[];
  sigmas?: number[];
}

function readJson<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;
}

/** SD 1.5's `scheduler/scheduler_config.json` (PNDM), verbatim. */
export const sdSchedulerConfig = (): RawSchedulerConfig => readJson('scheduler_config.json');
export const goldenSchedulers = (): GoldenSchedulers => readJson('golden_schedulers.json');
export const numpyReference = (): { cases: NumpyReferenceCase[] } => readJson('numpy_reference.json');

/** `init_latent`, `t_first/noise_pred_cfg` and `gen_sd/latents_after_step00` of one golden prompt. */
export async function pndmFirstStep(prompt: string): Promise<Record<string, Float32Array>> {
  const file = await openSafetensors(join(FIXTURES, 'pndm_first_step.safetensors'));
  const names = ['init_latent', 't_first/noise_pred_cfg', 'gen_sd/latents_after_step00'];
  const out: Record<string, Float32Array> = {};
  for (const name of names) out[name] = await file.readFloat32(`${prompt}/${name}`);
  return out;
}

/** max |a - b| / max |b|. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxDiff / maxRef;
}
