import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { loadUNet, type UNet2DConditionModel } from '../../src/models/unet/index.ts';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors.ts';

export const TINY_SD = fileURLToPath(new URL('../fixtures/tiny-sd', import.meta.url));
export const GOLDEN_DIR = fileURLToPath(new URL('../fixtures/golden', import.meta.url));

/** The golden prompts (file stems) in manifest order. */
export const PROMPTS = ['purple_dog_green_crown', 'three_geese', 'cat_frog'] as const;

interface Manifest {
  timesteps: number[];
  config: { mid_step_index: number };
}
const manifest = JSON.parse(readFileSync(join(GOLDEN_DIR, 'manifest.json'), 'utf8')) as Manifest;

/** `t_first` is loop index 0 (t = 981), `t_mid` loop index `mid_step_index` (25, t = 501). */
export const TIMESTEPS = {
  t_first: manifest.timesteps[0],
  t_mid: manifest.timesteps[manifest.config.mid_step_index],
} as const;

export function goldenFile(prompt: string): Promise<SafetensorsFile> {
  return openSafetensors(join(GOLDEN_DIR, `${prompt}.safetensors`));
}

let tiny: Promise<UNet2DConditionModel> | null = null;
export function tinyUNet(): Promise<UNet2DConditionModel> {
  tiny ??= loadUNet(TINY_SD);
  return tiny;
}

/** A temporary directory for the test file (graph cache, written models), removed after its tests. */
export function tempDirForFile(prefix: string): () => Promise<string> {
  let dir: Promise<string> | null = null;
  afterAll(async () => {
    if (dir) await rm(await dir, { recursive: true, force: true });
  });
  return () => {
    dir ??= mkdtemp(join(tmpdir(), prefix));
    return dir;
  };
}

/** max |a − b| / max |ref|: the fixtures README's measure. */
export function relativeError(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (actual.length !== reference.length)
    throw new Error(`lengths differ: ${actual.length} vs ${reference.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - reference[i]));
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  return diff / scale;
}

/** A seeded generator of uniform numbers in [−1, 1) (a 32-bit LCG; the values only need to be reproducible). */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 2 ** 32) * 2 - 1;
  };
}
