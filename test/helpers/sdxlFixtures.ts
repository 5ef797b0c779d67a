import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors.ts';
import { FIXTURES } from './fixtures.ts';

export const SDXL = join(FIXTURES, 'sdxl');
export const TINY_SDXL = join(SDXL, 'tiny-sdxl');

const opened = new Map<string, Promise<SafetensorsFile>>();

/** A tensor of `sdxl/golden/<file>.safetensors` as float32. */
export async function sdxlGolden(file: string, name: string): Promise<Float32Array> {
  let f = opened.get(file);
  if (!f) {
    f = openSafetensors(join(SDXL, 'golden', `${file}.safetensors`));
    opened.set(file, f);
  }
  return (await f).readFloat32(name);
}

/** One CLI run spec of `sdxl/cli/` (fixtures README, "SDXL", "cli/"). */
export interface SdxlRunSpec {
  prompt: string;
  token_indices: number[];
  attribute_indices?: number[];
  negative_prompt: string | null;
  height: number;
  width: number;
  method: string;
  params: {
    steps: number;
    guidance_scale: number;
    guidance_rescale?: number;
    original_size?: [number, number];
    crops_coords_top_left?: [number, number];
    target_size?: [number, number];
    scale_factor?: number;
    scale_range?: [number, number];
    max_iter_to_alter?: number;
    thresholds?: Record<string, number>;
    max_refinement_steps?: number;
    attention_res?: number | [number, number];
  };
  init_latents: { file: string; tensor: string };
  golden_final_latents: { file: string; tensor: string };
  refinement_iterations?: [number, number][];
}

export function sdxlRunSpec(name: string): SdxlRunSpec {
  return JSON.parse(readFileSync(join(SDXL, 'cli', `${name}.json`), 'utf8'));
}
