// The CLIP part of the evaluation fixtures (test/fixtures/eval, see its README section "Evaluation models").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

export const EVAL = join(FIXTURES, 'eval');
export const CLIP_TINY = join(EVAL, 'clip-tiny');
/** The five images in golden order (img0 … img4). */
export const EVAL_IMAGES = ['rgb_64x64', 'rgb_80x60', 'rgb_50x90', 'rgba_75x70', 'gray_40x52'].map((name) =>
  join(EVAL, 'images', `${name}.png`),
);

/** A check spec of eval/specs/ (kind, inputs, expected, tolerance), uninterpreted. */
// biome-ignore lint/suspicious/noExplicitAny: specs are JSON whose shape differs per kind.
export function evalSpec(name: string): any {
  return JSON.parse(readFileSync(join(EVAL, 'specs', `${name}.json`), 'utf8'));
}

// biome-ignore lint/suspicious/noExplicitAny: the manifest is a large JSON document read field by field.
export function evalManifest(): any {
  return JSON.parse(readFileSync(join(EVAL, 'golden', 'manifest.json'), 'utf8'));
}

let clipGolden: Promise<SafetensorsFile> | undefined;

/** A float32 tensor of golden/clip.safetensors. */
export async function clipGoldenFloats(name: string): Promise<Float32Array> {
  clipGolden ??= openSafetensors(join(EVAL, 'golden', 'clip.safetensors'));
  return (await clipGolden).readFloat32(name);
}

export async function clipGoldenInt64(name: string): Promise<BigInt64Array> {
  clipGolden ??= openSafetensors(join(EVAL, 'golden', 'clip.safetensors'));
  return (await clipGolden).readTyped(name, 'I64');
}

/** Row `row` of a row-major [rows, width] array. */
export function row(data: ArrayLike<number>, width: number, index: number): number[] {
  return Array.from({ length: width }, (_, i) => data[index * width + i]);
}
