import { join } from 'node:path';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

/** The tiny SDXL pipeline folder and its diffusers 0.21.4 goldens (fixtures README, section "SDXL"). */
export const TINY_SDXL = join(FIXTURES, 'sdxl', 'tiny-sdxl');
const SDXL_GOLDEN = join(FIXTURES, 'sdxl', 'golden');

/** The two golden prompts, by file name, and the negative prompt of their `negative_*` tensors. */
export const SDXL_PROMPTS = {
  red_book_yellow_vase: 'a red book and a yellow vase',
  dog_cat_grass: 'a dog and a cat on the grass',
} as const;
export type SdxlPromptKey = keyof typeof SDXL_PROMPTS;
export const SDXL_PROMPT_KEYS = Object.keys(SDXL_PROMPTS) as SdxlPromptKey[];
export const SDXL_NEGATIVE_PROMPT = 'blurry, low quality';

const opened = new Map<string, Promise<SafetensorsFile>>();

function file(key: SdxlPromptKey): Promise<SafetensorsFile> {
  let f = opened.get(key);
  if (!f) {
    f = openSafetensors(join(SDXL_GOLDEN, `${key}.safetensors`));
    opened.set(key, f);
  }
  return f;
}

export async function sdxlGoldenFloats(key: SdxlPromptKey, name: string): Promise<Float32Array> {
  return (await file(key)).readFloat32(name);
}

export async function sdxlGoldenIds(key: SdxlPromptKey, name: string): Promise<BigInt64Array> {
  return (await file(key)).readTyped(name, 'I64');
}
