import { describe, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { evaluate, expectClose, randomInputs, useCacheDir } from './harness.ts';
import * as R from './reference/linalg.ts';
import type { Tensor } from './reference/tensor.ts';

const cacheDir = useCacheDir();

describe('matrix products', () => {
  it('matmul with broadcast batch axes, gemm with transA/transB and C, linear', async () => {
    const inputs = randomInputs(8, {
      a: [2, 1, 3, 4],
      b: [5, 4, 2],
      m: [3, 4],
      gA: [4, 3],
      gB: [5, 4],
      c: [5],
      c2: [3, 1],
      w: [6, 4],
      bias: [6],
    });
    const g = new G.Graph();
    const v = Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, g.input(n, t.shape, 'float64')]));
    const result = await evaluate(
      {
        batched: G.matmul(v.a, v.b),
        plain: G.matmul(v.m, G.transposeLast2(v.gB)),
        gemm: G.gemm(v.gA, v.gB, v.c, { transA: true, transB: true, alpha: 0.5, beta: 2 }),
        gemmNoC: G.gemm(v.m, v.gA),
        gemmColumn: G.gemm(v.m, v.gB, v.c2, { transB: true }),
        linear: G.linear(v.a, v.w, v.bias),
      },
      inputs,
      cacheDir,
    );
    const i = inputs;
    const o = { atol: 1e-12, rtol: 1e-12 };
    expectClose(result.batched, R.matmul(i.a, i.b), o);
    expectClose(result.plain, R.matmul(i.m, R.transpose2(i.gB)), o);
    expectClose(result.gemm, R.gemm(i.gA, i.gB, i.c, { transA: true, transB: true, alpha: 0.5, beta: 2 }), o);
    expectClose(result.gemmNoC, R.gemm(i.m, i.gA, undefined), o);
    expectClose(result.gemmColumn, R.gemm(i.m, i.gB, i.c2, { transB: true }), o);
    const linearRef = R.matmul(i.a, R.transpose2(i.w));
    expectClose(
      result.linear,
      { ...linearRef, data: linearRef.data.map((x, k) => x + i.bias.data[k % 6]) },
      o,
    );
  });
});

describe('conv2d (float32: the CPU provider has no double Conv)', () => {
  // Sums of ≤ 36 products of values in [-1, 1], each rounded to float32: well under 1e-5.
  const o = { atol: 1e-5, rtol: 1e-5 };
  const asFloat32 = (t: Tensor): Tensor => ({ ...t, data: Float64Array.from(Float32Array.from(t.data)) });

  it('plain, padded, strided, dilated, grouped and depthwise, with and without bias', async () => {
    const raw = randomInputs(9, {
      x: [2, 4, 7, 6],
      w: [6, 4, 3, 3],
      b: [6],
      wg: [6, 2, 3, 2],
      wd: [4, 1, 3, 3],
    });
    const inputs = Object.fromEntries(Object.entries(raw).map(([n, t]) => [n, asFloat32(t)]));
    const g = new G.Graph();
    const v = Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, g.input(n, t.shape)]));
    const cases: Record<string, [G.Value, Tensor, boolean, R.ConvParams]> = {
      plain: [v.w, inputs.w, true, {}],
      padded: [v.w, inputs.w, true, { padding: 1 }],
      strided: [v.w, inputs.w, false, { stride: 2, padding: 1 }],
      stride3: [v.w, inputs.w, true, { stride: 3 }],
      dilated: [v.w, inputs.w, true, { dilation: 2, padding: 2 }],
      grouped: [v.wg, inputs.wg, true, { groups: 2, stride: 2 }],
      depthwise: [v.wd, inputs.wd, false, { groups: 4, padding: 1 }],
    };
    const outputs: Record<string, G.Value> = {};
    for (const [name, [w, , bias, p]] of Object.entries(cases)) {
      const b = bias && w.shape[0] === 6 ? v.b : undefined;
      outputs[name] = G.conv2d(v.x, w, b, p);
    }
    const result = await evaluate(outputs, inputs, cacheDir);
    for (const [name, [w, wt, bias, p]] of Object.entries(cases)) {
      const b = bias && w.shape[0] === 6 ? inputs.b : undefined;
      expectClose(result[name], R.conv2d(inputs.x, wt, b, p), { ...o, what: name });
    }
  });
});
