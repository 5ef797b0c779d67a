import { describe, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { checkGradient, randomInputs, useCacheDir } from './harness.ts';

const cacheDir = useCacheDir();

// Gradients of compositions like the ones the models and the guidance losses build, against central finite
// differences (tolerances as in gradients.test.ts; the float32 ones are justified where they are used).

/** Reflect padding by 1 on the last two axes, from slices and concat (as PyTorch's F.pad(mode='reflect')). */
function reflectPad1(x: G.Value): G.Value {
  const rows = G.concat([G.slice(x, [1], [2], [2]), x, G.slice(x, [-2], [-1], [2])], 2);
  return G.concat([G.slice(rows, [1], [2], [3]), rows, G.slice(rows, [-2], [-1], [3])], 3);
}

/** A 3×3 Gaussian-like kernel (σ = 0.5 as in Attend & Excite's smoothing), normalised to sum 1. */
function smoothingKernel(g: G.Graph, channels: number): G.Value {
  const k1 = [-1, 0, 1].map((d) => Math.exp(-(d * d) / (2 * 0.5 * 0.5)));
  const total = k1.reduce((a, b) => a + b, 0);
  const k = k1.flatMap((a) => k1.map((b) => (a * b) / (total * total)));
  return g.constant(Array.from({ length: channels }, () => k).flat(), [channels, 1, 3, 3]);
}

describe('gradients of compositions', () => {
  it('softmax of a matmul (float64)', () =>
    checkGradient(
      {
        inputs: randomInputs(31, { a: [2, 3, 4], b: [4, 5] }, { lo: -2, hi: 2 }),
        build: ({ a, b }) => G.softmax(G.mul(G.matmul(a, b), 0.5), -1),
      },
      cacheDir,
    ));

  it('a small attention block: q/k/v linear, two heads, scaled softmax, matmul, output projection (float64)', () =>
    checkGradient(
      {
        inputs: randomInputs(32, {
          x: [2, 3, 4],
          context: [2, 5, 6],
          wq: [4, 4],
          bq: [4],
          wk: [4, 6],
          wv: [4, 6],
          wo: [4, 4],
        }),
        build: ({ x, context, wq, bq, wk, wv, wo }) => {
          const heads = (t: G.Value) => G.transpose(G.reshape(t, [2, t.shape[1], 2, 2]), [0, 2, 1, 3]);
          const q = heads(G.linear(x, wq, bq));
          const k = heads(G.linear(context, wk));
          const v = heads(G.linear(context, wv));
          const attention = G.softmax(G.mul(G.matmul(q, G.transposeLast2(k)), 1 / Math.sqrt(2)), -1);
          const merged = G.reshape(G.transpose(G.matmul(attention, v), [0, 2, 1, 3]), [2, 3, 4]);
          return G.add(G.linear(merged, wo), x); // residual: x fans out
        },
      },
      cacheDir,
    ));

  it('group norm of a conv, then SiLU (float32)', () =>
    // Conv has no double kernel. Nonlinear, so h = 1e-2: truncation ≈ h²·|f'''|/6 ≲ 1e-4 for these O(1)
    // curvatures, float32 rounding of the loss (|L| ≲ 30, ≈ 3e-6) over 2h ≈ 1.5e-4: tolerance 2e-3.
    checkGradient(
      {
        inputs: randomInputs(33, { x: [2, 3, 4, 4], w: [4, 3, 3, 3], b: [4], s: [4], beta: [4] }),
        build: ({ x, w, b, s, beta }) => {
          const h = G.groupNorm(G.conv2d(x, w, b, { padding: 1 }), s, beta, 2);
          return G.mul(h, G.sigmoid(h));
        },
        dtype: 'float32',
        step: 1e-2,
        atol: 2e-3,
        rtol: 2e-3,
      },
      cacheDir,
    ));

  it('max over a 3×3-smoothed map with reflect padding from slices and concat (float32)', () =>
    // The loss is piecewise linear in x (conv then max), and the maximum is unique with margin, so the central
    // difference is exact up to float32 rounding (≈ 1e-7 / 2h): tolerance 1e-4.
    checkGradient(
      {
        inputs: randomInputs(34, { x: [1, 2, 6, 5] }),
        build: ({ x }) => {
          const smoothed = G.conv2d(reflectPad1(x), smoothingKernel(x.graph, 2), undefined, { groups: 2 });
          return G.sub(1, G.reduceMax(smoothed, [-2, -1]));
        },
        dtype: 'float32',
        step: 1e-2,
        atol: 1e-4,
        rtol: 1e-4,
      },
      cacheDir,
    ));

  it('total variation of a softmax-normalised map, with a fan-out into a min (float64)', () =>
    checkGradient(
      {
        inputs: randomInputs(35, { x: [2, 4, 5] }, { lo: -2, hi: 2 }),
        build: ({ x }) => {
          const p = G.softmax(G.reshape(x, [2, 20]), -1);
          const map = G.reshape(p, [2, 4, 5]);
          const dy = G.abs(G.sub(G.slice(map, [1], [4], [1]), G.slice(map, [0], [3], [1])));
          const dx = G.abs(G.sub(G.slice(map, [1], [5], [2]), G.slice(map, [0], [4], [2])));
          const tv = G.add(G.reduceSum(dy, [1, 2]), G.reduceSum(dx, [1, 2]));
          return G.add(tv, G.reduceMin(G.reduceMax(map, [1, 2]))); // min over samples of the peak
        },
      },
      cacheDir,
    ));
});
