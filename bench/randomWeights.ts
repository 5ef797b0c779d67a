import { float32ToFloat16 } from '../src/weights/halfFloat.ts';
import type { TensorToWrite } from '../src/weights/safetensorsWriter.ts';

/**
 * Seeded random values for a tensor, independent of the order tensors are written in (the seed mixes in the
 * name). The cost of a network does not depend on its weights, but the values must keep activations finite:
 * norm scales are 1 and norm shifts 0, embedding tables have std 0.02, every other weight is uniform with
 * std 0.5/√fan_in (a little below variance-preserving, so residual streams grow slowly), biases ±0.01.
 */
export function randomTensor(name: string, shape: readonly number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  const isBias = name.endsWith('.bias');
  if (shape.length === 1 && !isBias) return values.fill(1); // a norm's scale
  if (shape.length === 1 && /norm/.test(name)) return values; // a norm's shift
  const fanIn = shape.length > 1 ? n / shape[0] : 1;
  const std = isBias ? 0.01 / Math.sqrt(3) : /embedding/.test(name) ? 0.02 : 0.5 / Math.sqrt(fanIn);
  const amplitude = std * Math.sqrt(3);
  // xorshift32 seeded from an FNV-1a hash of the name and the seed: fast enough for 10⁹ values.
  let state = (2166136261 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) state = Math.imul(state ^ name.charCodeAt(i), 16777619) >>> 0;
  state ||= 1;
  const scale = (2 * amplitude) / 4294967296;
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    values[i] = (state >>> 0) * scale - amplitude;
  }
  return values;
}

/** Tensors to write for `shapes`, generated lazily one at a time, as fp32 or fp16. */
export function randomTensors(
  shapes: ReadonlyMap<string, readonly number[]>,
  seed: number,
  dtype: 'F32' | 'F16',
): Record<string, TensorToWrite> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, shape] of shapes) {
    tensors[name] = {
      dtype,
      shape,
      data: () => {
        const values = randomTensor(name, shape, seed);
        return dtype === 'F32' ? values : float32ToFloat16(values);
      },
    };
  }
  return tensors;
}
