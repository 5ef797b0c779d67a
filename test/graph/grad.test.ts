import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { evaluate, expectClose, useCacheDir } from './harness.ts';
import { tensor } from './reference/tensor.ts';

const cacheDir = useCacheDir();
const exact = { atol: 0, rtol: 0 };

describe('PyTorch gradient conventions at kinks and ties (exact values)', () => {
  it('reduceMax/reduceMin split the gradient evenly among exactly tied extrema', async () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 5], 'float64');
    const [all] = G.grad(G.reduceMax(x), [x]);
    const [rows] = G.grad(G.reduceSum(G.reduceMax(x, [1])), [x]);
    const [rowsMin] = G.grad(G.reduceSum(G.reduceMin(x, [-1], true)), [x]);
    const data = tensor([2, 5], [1, 3, 3, 2, 3, -1, 0, -1, 0, -1]);
    const result = await evaluate({ all, rows, rowsMin }, { x: data }, cacheDir);
    expectClose(result.all, [0, 1 / 3, 1 / 3, 0, 1 / 3, 0, 0, 0, 0, 0], exact);
    expectClose(result.rows, [0, 1 / 3, 1 / 3, 0, 1 / 3, 0, 0.5, 0, 0.5, 0], exact);
    expectClose(result.rowsMin, [1, 0, 0, 0, 0, 1 / 3, 0, 1 / 3, 0, 1 / 3], exact);
  });

  it('d|x|/dx = 0 and d relu(x)/dx = 0 at 0; sign(0) = 0', async () => {
    const g = new G.Graph();
    const x = g.input('x', [3], 'float64');
    const [dAbs] = G.grad(G.reduceSum(G.abs(x)), [x]);
    const [dRelu] = G.grad(G.reduceSum(G.relu(x)), [x]);
    const result = await evaluate({ dAbs, dRelu, sign: G.sign(x) }, { x: tensor([3], [-2, 0, 2]) }, cacheDir);
    expectClose(result.dAbs, [-1, 0, 1], exact);
    expectClose(result.dRelu, [0, 0, 1], exact);
    expectClose(result.sign, [-1, 0, 1], exact);
  });

  it('pow: zero gradients where PyTorch masks 0·∞ (exponent 0; base 0 with exponent ≥ 0)', async () => {
    const g = new G.Graph();
    const a = g.input('a', [3], 'float64');
    const b = g.input('b', [3], 'float64');
    const [da, db] = G.grad(G.reduceSum(G.pow(a, b)), [a, b]);
    const result = await evaluate(
      { da, db },
      { a: tensor([3], [0, 0, 2]), b: tensor([3], [0, 2, 3]) },
      cacheDir,
    );
    expectClose(result.da, [0, 0, 12], exact);
    expectClose(result.db, [0, 0, 8 * Math.log(2)], { atol: 1e-15 });
  });

  it('maximum/minimum give 0.5 to each side of a tie', async () => {
    const g = new G.Graph();
    const a = g.input('a', [3], 'float64');
    const b = g.input('b', [3], 'float64');
    const [maxA, maxB] = G.grad(G.reduceSum(G.maximum(a, b)), [a, b]);
    const [minA, minB] = G.grad(G.reduceSum(G.minimum(a, b)), [a, b]);
    const result = await evaluate(
      { maxA, maxB, minA, minB },
      { a: tensor([3], [1, 2, 3]), b: tensor([3], [0, 2, 4]) },
      cacheDir,
    );
    expectClose(result.maxA, [1, 0.5, 0], exact);
    expectClose(result.maxB, [0, 0.5, 1], exact);
    expectClose(result.minA, [0, 0.5, 1], exact);
    expectClose(result.minB, [1, 0.5, 0], exact);
  });
});

describe('grad as a graph transformation', () => {
  it('sums the gradients of a value used twice (fan-out)', async () => {
    const g = new G.Graph();
    const x = g.input('x', [4], 'float64');
    const [dx] = G.grad(G.reduceSum(G.add(G.mul(x, x), G.sin(x))), [x]);
    const values = [-1, 0, 0.5, 2];
    const result = await evaluate({ dx }, { x: tensor([4], values) }, cacheDir);
    expectClose(
      result.dx,
      values.map((v) => 2 * v + Math.cos(v)),
      { atol: 1e-15 },
    );
  });

  it('reduces broadcast gradients back to each operand shape', async () => {
    const g = new G.Graph();
    const a = g.input('a', [3], 'float64');
    const b = g.input('b', [2, 1, 1], 'float64');
    const c = g.input('c', [], 'float64');
    const grads = G.grad(G.reduceSum(G.mul(G.add(a, b), c)), [a, b, c]);
    expect(grads.map((v) => v.shape)).toEqual([[3], [2, 1, 1], []]);
    const result = await evaluate(
      { da: grads[0], db: grads[1], dc: grads[2] },
      { a: tensor([3], [1, 2, 3]), b: tensor([2, 1, 1], [10, 20]), c: tensor([], [0.5]) },
      cacheDir,
    );
    expectClose(result.da, [1, 1, 1], exact); // 2 rows × c
    expectClose(result.db, [1.5, 1.5], exact); // 3 columns × c
    expectClose(result.dc, [2 * 6 + 3 * 30], exact); // Σ (a + b) over [2,1,3]
  });

  it('gives zeros of the right shape for a value the output does not depend on', async () => {
    const g = new G.Graph();
    const x = g.input('x', [2], 'float64');
    const unused = g.input('unused', [2, 3], 'float64');
    const [dx, dUnused] = G.grad(G.reduceSum(G.exp(x)), [x, unused]);
    const result = await evaluate({ dx, dUnused }, { x: tensor([2], [0, 1]) }, cacheDir);
    expectClose(result.dx, [1, Math.E], { atol: 1e-15 });
    expectClose(result.dUnused, new Float64Array(6), exact);
    expect(result.dUnused.shape).toEqual([2, 3]);
  });

  it('differentiates with respect to an intermediate value', async () => {
    const g = new G.Graph();
    const x = g.input('x', [3], 'float64');
    const h = G.mul(x, 2);
    const [dh] = G.grad(G.reduceSum(G.mul(h, h)), [h]);
    const result = await evaluate({ dh }, { x: tensor([3], [1, 2, 3]) }, cacheDir);
    expectClose(result.dh, [4, 8, 12], exact);
  });

  it('takes a seed (the output cotangent) for a non-scalar output', async () => {
    const g = new G.Graph();
    const x = g.input('x', [3], 'float64');
    const seed = g.constant([1, 10, 100], [3], 'float64');
    const [dx] = G.grad(G.mul(x, x), [x], seed);
    const result = await evaluate({ dx }, { x: tensor([3], [1, 2, 3]) }, cacheDir);
    expectClose(result.dx, [2, 40, 600], exact);
  });

  it('refuses a non-scalar output without a seed, a seed of the wrong shape and non-float wrt', () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 3]);
    const ids = g.input('ids', [2], 'int64');
    expect(() => G.grad(G.exp(x), [x])).toThrow(/grad: the output \[2,3\] float32 is not a scalar.*seed/);
    expect(() => G.grad(G.exp(x), [x], g.zeros([3]))).toThrow(/seed.*\[3\].*\[2,3\]/);
    expect(() => G.grad(G.reduceSum(x), [ids])).toThrow(/cannot differentiate with respect to int64/);
  });

  it('names the op that has no gradient rule', () => {
    const g = new G.Graph();
    const x = g.input('x', [1, 1, 3, 3]);
    const w = g.input('w', [1, 1, 2, 2]);
    const [dx] = G.grad(G.reduceSum(G.conv2d(x, w)), [x]); // a ConvTranspose of the seed and w
    expect(() => G.grad(G.reduceSum(G.mul(dx, dx)), [w])).toThrow(/ConvTranspose has no gradient rule/);
  });
});
