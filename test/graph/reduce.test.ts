import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { evaluate, expectClose, randomInputs, useCacheDir } from './harness.ts';
import { groupNorm, layerNorm } from './reference/normalization.ts';
import * as R from './reference/reduce.ts';

const cacheDir = useCacheDir();
// float64 throughout; sums of a few dozen terms differ from the reference by rounding order only.
const close = { atol: 1e-12, rtol: 1e-12 };

describe('reductions', () => {
  const inputs = randomInputs(5, { x: [2, 3, 4] });
  const cases: [string, readonly number[] | undefined, boolean][] = [
    ['all', undefined, false],
    ['last', [-1], false],
    ['middleKeep', [1], true],
    ['twoNegative', [0, -1], false],
    ['twoKeep', [-3, 2], true],
  ];
  const kinds = [
    ['sum', G.reduceSum, R.sum],
    ['mean', G.reduceMean, R.mean],
    ['max', G.reduceMax, R.max],
    ['min', G.reduceMin, R.min],
  ] as const;

  it('sum, mean, max and min over axes (negative, several, all) with and without keepdims', async () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 3, 4], 'float64');
    const outputs: Record<string, G.Value> = {};
    for (const [kind, op] of kinds) {
      for (const [name, axes, keepdims] of cases) outputs[`${kind}_${name}`] = op(x, axes, keepdims);
    }
    const result = await evaluate(outputs, inputs, cacheDir);
    for (const [kind, , ref] of kinds) {
      for (const [name, axes, keepdims] of cases) {
        expectClose(result[`${kind}_${name}`], ref(inputs.x, axes, keepdims), {
          ...close,
          what: `${kind}_${name}`,
        });
      }
    }
    expect(result.sum_all.shape).toEqual([]);
    expect(result.max_twoKeep.shape).toEqual([1, 3, 1]);
  });

  it('an empty axis list is the identity', () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 3]);
    expect(G.reduceSum(x, [])).toBe(x);
  });
});

describe('softmax and normalization', () => {
  it('softmax along the first, a middle and the last (negative) axis', async () => {
    const inputs = randomInputs(6, { x: [2, 3, 4] }, { lo: -3, hi: 3 });
    const g = new G.Graph();
    const x = g.input('x', [2, 3, 4], 'float64');
    const result = await evaluate(
      { first: G.softmax(x, 0), middle: G.softmax(x, 1), last: G.softmax(x), negative: G.softmax(x, -2) },
      inputs,
      cacheDir,
    );
    expectClose(result.first, R.softmax(inputs.x, 0), close);
    expectClose(result.middle, R.softmax(inputs.x, 1), close);
    expectClose(result.last, R.softmax(inputs.x, 2), close);
    expectClose(result.negative, R.softmax(inputs.x, 1), close);
  });

  it('layer norm over the last axis and group norm of N C H W and N C L input', async () => {
    const inputs = randomInputs(7, {
      x: [2, 3, 4],
      s: [4],
      b: [4],
      img: [2, 6, 2, 3],
      gs: [6],
      gb: [6],
      seq: [1, 4, 5],
      ss: [4],
      sb: [4],
    });
    const g = new G.Graph();
    const v = Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, g.input(n, t.shape, 'float64')]));
    const result = await evaluate(
      {
        layer: G.layerNorm(v.x, v.s, v.b),
        layerEps: G.layerNorm(v.x, v.s, v.b, 0.1),
        group3: G.groupNorm(v.img, v.gs, v.gb, 3),
        group1: G.groupNorm(v.img, v.gs, v.gb, 1, 1e-6),
        group4: G.groupNorm(v.seq, v.ss, v.sb, 2),
      },
      inputs,
      cacheDir,
    );
    const i = inputs;
    // Normalisation divides by σ ≈ 0.5, amplifying rounding a little. ONNX stores epsilon as a float32
    // attribute, so the reference uses the float32 epsilon too (float32(0.1) − 0.1 ≈ 1.5e-9 shows otherwise).
    const o = { atol: 1e-10, rtol: 1e-10 };
    const f = Math.fround;
    expectClose(result.layer, layerNorm(i.x, i.s, i.b, f(1e-5)), { ...o, what: 'layer' });
    expectClose(result.layerEps, layerNorm(i.x, i.s, i.b, f(0.1)), { ...o, what: 'layerEps' });
    expectClose(result.group3, groupNorm(i.img, i.gs, i.gb, 3, f(1e-5)), { ...o, what: 'group3' });
    expectClose(result.group1, groupNorm(i.img, i.gs, i.gb, 1, f(1e-6)), { ...o, what: 'group1' });
    expectClose(result.group4, groupNorm(i.seq, i.ss, i.sb, 2, f(1e-5)), { ...o, what: 'group4' });
  });
});
