/** Reads the float32 tensors of the golden `.safetensors` fixtures in test/fixtures/rng. */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RNG_FIXTURES = fileURLToPath(new URL('../fixtures/rng/', import.meta.url));

interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function readF32Safetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const entry = value as TensorEntry;
    if (entry.dtype !== 'F32') throw new Error(`${name}: expected F32, got ${entry.dtype}`);
    const [begin, end] = entry.data_offsets;
    const raw = bytes.subarray(8 + headerLength + begin, 8 + headerLength + end);
    const data = new Float32Array(raw.length / 4);
    for (let i = 0; i < data.length; i++) data[i] = raw.readFloatLE(4 * i);
    tensors.set(name, { shape: entry.shape, data });
  }
  return tensors;
}

/** Number of positions where two float32 arrays differ bit for bit, and the largest difference. */
export function compareExact(
  actual: Float32Array,
  expected: Float32Array,
): { mismatches: number; maxAbsDiff: number } {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  let mismatches = 0;
  let maxAbsDiff = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      mismatches++;
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[i] - expected[i]));
    }
  }
  return { mismatches, maxAbsDiff };
}
