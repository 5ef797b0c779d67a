import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors.ts';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const TINY_SD = join(FIXTURES, 'tiny-sd');
export const GOLDEN = join(FIXTURES, 'golden');

/** The three golden prompts of fixtures/golden (see test/fixtures/README.md). */
export const GOLDEN_PROMPTS = ['purple_dog_green_crown', 'three_geese', 'cat_frog'] as const;
export type GoldenPrompt = (typeof GOLDEN_PROMPTS)[number];

const opened = new Map<string, Promise<SafetensorsFile>>();

/** A tensor of `golden/<file>.safetensors` as float32. */
export async function golden(file: string, name: string): Promise<Float32Array> {
  let f = opened.get(file);
  if (!f) {
    f = openSafetensors(join(GOLDEN, `${file}.safetensors`));
    opened.set(file, f);
  }
  return (await f).readFloat32(name);
}

/** A fresh temporary folder (for graph caches and written files). */
export function tempDir(prefix = 'dnb-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A prompt of golden/manifest.json: its key, its text and the official token indices. */
export interface GoldenManifestPrompt {
  key: string;
  prompt: string;
  token_indices: number[];
  color_indices: number[] | null;
}

export function goldenManifest(): { prompts: GoldenManifestPrompt[] } {
  return JSON.parse(readFileSync(join(GOLDEN, 'manifest.json'), 'utf8'));
}
