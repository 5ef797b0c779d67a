import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadUNet, type UNet2DConditionModel } from '../../src/models/unet/index.ts';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors.ts';

// The SDXL fixtures (fixtures README, section "SDXL"): tiny-sdxl and its diffusers 0.21.4 goldens.

export const TINY_SDXL = fileURLToPath(new URL('../fixtures/sdxl/tiny-sdxl', import.meta.url));
export const SDXL_GOLDEN_DIR = fileURLToPath(new URL('../fixtures/sdxl/golden', import.meta.url));

/** The golden prompts; only the first has the batch-1 call, the embeddings' halves and the attention maps. */
export const SDXL_PROMPTS = ['red_book_yellow_vase', 'dog_cat_grass'] as const;

const manifest = JSON.parse(readFileSync(join(SDXL_GOLDEN_DIR, 'manifest.json'), 'utf8')) as {
  timesteps: number[];
};
/** Loop index 0 of the 10 Euler steps (`leading`): t = 901, the step the step0/* tensors are taken at. */
export const SDXL_T0 = manifest.timesteps[0];

export function sdxlGolden(prompt: string): Promise<SafetensorsFile> {
  return openSafetensors(join(SDXL_GOLDEN_DIR, `${prompt}.safetensors`));
}

let tiny: Promise<UNet2DConditionModel> | null = null;
export function tinySdxlUNet(): Promise<UNet2DConditionModel> {
  tiny ??= loadUNet(TINY_SDXL);
  return tiny;
}

/** `parts` one after the other (a batch made of per-sample tensors). */
export function stack(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
