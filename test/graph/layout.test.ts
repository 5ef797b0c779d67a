import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { evaluate, expectClose, randomInputs, useCacheDir } from './harness.ts';
import * as R from './reference/layout.ts';
import type { Tensor } from './reference/tensor.ts';

const cacheDir = useCacheDir();

// Ops that only move entries: exact equality in float64.
const exact = { atol: 0, rtol: 0 };

describe('layout ops', () => {
  const inputs = randomInputs(3, { x: [2, 3, 4], y: [2, 1, 4], z: [2, 3, 4] });

  it('reshape (with -1), squeeze, unsqueeze, transpose, expand', async () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 3, 4], 'float64');
    const y = g.input('y', [2, 1, 4], 'float64');
    const result = await evaluate(
      {
        reshape: G.reshape(x, [4, -1]),
        squeeze: G.squeeze(y, -2),
        unsqueeze: G.unsqueeze(x, -1),
        transpose: G.transpose(x, [2, 0, 1]),
        last2: G.transposeLast2(x),
        expand: G.expand(y, [3, 2, 5, 4]),
      },
      inputs,
      cacheDir,
    );
    expect(result.reshape.shape).toEqual([4, 6]);
    expectClose(result.reshape.data, inputs.x.data, exact);
    expect(result.squeeze.shape).toEqual([2, 4]);
    expectClose(result.squeeze.data, inputs.y.data, exact);
    expect(result.unsqueeze.shape).toEqual([2, 3, 4, 1]);
    expectClose(result.transpose, R.transpose(inputs.x, [2, 0, 1]), exact);
    expectClose(result.last2, R.transpose(inputs.x, [0, 2, 1]), exact);
    expectClose(result.expand, R.expand(inputs.y, [3, 2, 5, 4]), exact);
  });

  it('concat on a negative axis, slices with steps, negative bounds and clamping', async () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 3, 4], 'float64');
    const y = g.input('y', [2, 1, 4], 'float64');
    const z = g.input('z', [2, 3, 4], 'float64');
    const result = await evaluate(
      {
        concat: G.concat([x, y, z], -2),
        concat0: G.concat([x, z], 0),
        stepped: G.slice(x, [0, 1], [100, 4], [-1, 0], [2, 1]),
        negative: G.slice(x, [-3, -2], [-1, 3], [2, 1]),
        stride3: G.slice(x, [1], [4], [2], [3]),
      },
      inputs,
      cacheDir,
    );
    expectClose(result.concat, R.concat([inputs.x, inputs.y, inputs.z], -2), exact);
    expectClose(result.concat0, R.concat([inputs.x, inputs.z], 0), exact);
    expectClose(result.stepped, R.slice(inputs.x, [0, 1], [100, 4], [-1, 0], [2, 1]), exact);
    expect(result.stepped.shape).toEqual([1, 3, 2]);
    expectClose(result.negative, R.slice(inputs.x, [-3, -2], [-1, 3], [2, 1], [1, 1]), exact);
    expectClose(result.stride3, R.slice(inputs.x, [1], [4], [2], [3]), exact);
  });

  it('gather with repeated and negative indices, on a negative axis and with an index input', async () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 3, 4], 'float64');
    const index = g.constant([2, -1, 0], [3], 'int64');
    const result = await evaluate(
      { axis1: G.gather(x, [2, 0, 2, -3], 1), last: G.gather(x, [3, 3], -1), value: G.gather(x, index, 2) },
      inputs,
      cacheDir,
    );
    expectClose(result.axis1, R.gather(inputs.x, [2, 0, 2, -3], 1), exact);
    expectClose(result.last, R.gather(inputs.x, [3, 3], -1), exact);
    expectClose(result.value, R.gather(inputs.x, [2, -1, 0], 2), exact);
  });

  it('constant padding (zeros, a value, negative pads crop) in float64 and float32', async () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 3, 4], 'float64');
    const pads: [number, number][] = [
      [0, 1],
      [2, 0],
      [1, 1],
    ];
    const crop: [number, number][] = [
      [0, 0],
      [-1, 1],
      [2, -2],
    ];
    const result = await evaluate(
      {
        zeros: G.pad(x, pads),
        value: G.pad(x, pads, -1.5),
        crop: G.pad(x, crop),
        f32: G.pad(G.cast(x, 'float32'), pads, 2),
      },
      inputs,
      cacheDir,
    );
    expectClose(result.zeros, R.pad(inputs.x, pads), exact);
    expectClose(result.value, R.pad(inputs.x, pads, -1.5), exact);
    expectClose(result.crop, R.pad(inputs.x, crop), exact);
    expectClose(result.f32, R.pad(inputs.x, pads, 2), { atol: 1e-7 });
  });

  it('nearest upsampling by 2 and 3 (float32: no double Resize kernel)', async () => {
    const g = new G.Graph();
    const x = g.input('x', [1, 2, 2, 3]);
    const input: Tensor = randomInputs(4, { x: [1, 2, 2, 3] }).x;
    const result = await evaluate(
      { up2: G.upsampleNearest(x, 2), up3: G.upsampleNearest(x, 3) },
      { x: input },
      cacheDir,
    );
    const f32 = { ...input, data: Float64Array.from(Float32Array.from(input.data)) };
    expectClose(result.up2, R.upsampleNearest(f32, 2), exact);
    expectClose(result.up3, R.upsampleNearest(f32, 3), exact);
  });
});
