import { describe, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { checkGradient, type GradientCheck, randomInputs, useCacheDir } from './harness.ts';
import { map } from './reference/tensor.ts';

const cacheDir = useCacheDir();

// Every differentiable op's `grad` against central finite differences of Σ op(x)·w (see checkGradient).
//
// float64 (default): step h = 1e-6, tolerance 1e-6 absolute + 1e-6 relative. The central difference's
// truncation error is h²·f'''/6 ≈ 1e-13 for these smooth O(1) functions, its rounding error ε·|L|/h ≈
// 1e-16·10/1e-6 = 1e-9; 1e-6 leaves three orders of magnitude of margin and still catches any wrong rule
// (a wrong rule is off by O(1)).
//
// float32 where ONNX Runtime's CPU provider has no double kernel (Conv, ConvTranspose, Resize, Erf):
// - Conv and Resize are linear in each argument, so the central difference has no truncation error at any
//   step; a large step (0.25) makes the float32 rounding of the loss (≈ 6e-8·|L| with |L| ≲ 20) negligible:
//   ≈ 1e-6 / 0.5 ≈ 2e-6 per entry; tolerance 1e-4.
// - Erf is smooth: h = 1e-2 gives truncation ≈ h²·|erf'''|/6 ≤ 4e-5 and rounding ≈ 6e-8·|L|/2h ≤ 3e-5;
//   tolerance 5e-4.
// Non-smooth ops (abs, relu, max, min) get inputs at least 0.1 from their kinks and ties, far more than h.

const cases: Record<string, GradientCheck> = {};
const add = (name: string, c: GradientCheck) => {
  cases[name] = c;
};

// Binary ops, broadcasting [2,1,3] with [4,1] and a scalar constant operand.
const ab = randomInputs(11, { a: [2, 1, 3], b: [4, 1] });
const abPositive = randomInputs(12, { a: [2, 1, 3], b: [4, 1] }, { lo: 0.5, hi: 1.5 });
add('add', { inputs: ab, build: ({ a, b }) => G.add(a, b) });
add('sub', { inputs: ab, build: ({ a, b }) => G.sub(G.sub(a, b), G.sub(0.5, a)) });
add('mul', { inputs: ab, build: ({ a, b }) => G.mul(G.mul(a, b), 3) });
add('div', { inputs: abPositive, build: ({ a, b }) => G.add(G.div(a, b), G.div(1, b)) });
add('pow', { inputs: abPositive, build: ({ a, b }) => G.add(G.pow(a, b), G.pow(b, 3)) });
// Separate a from b by ≥ 0.1 so no pair ties within a step.
const separated = { a: ab.a, b: map(ab.b, (v) => (v > 0 ? 1.2 + v : -1.2 + v)) };
add('maximum', { inputs: { a: ab.a, b: separated.b }, build: ({ a, b }) => G.maximum(a, b) });
add('minimum', { inputs: { a: ab.a, b: separated.b }, build: ({ a, b }) => G.minimum(a, b) });

// Unary ops.
const x = randomInputs(13, { x: [2, 3] }, { avoid: 0.1 });
const positive = randomInputs(14, { x: [2, 3] }, { lo: 0.3, hi: 2 });
const unary: [string, (v: G.Value) => G.Value, GradientCheck['inputs']][] = [
  ['neg', G.neg, x],
  ['sqrt', G.sqrt, positive],
  ['exp', G.exp, x],
  ['log', G.log, positive],
  ['abs', G.abs, x],
  ['sigmoid', G.sigmoid, x],
  ['tanh', G.tanh, x],
  ['relu', G.relu, x],
  ['identity', G.identity, x],
  ['sin', G.sin, x],
  ['cos', G.cos, x],
];
for (const [name, op, inputs] of unary) add(name, { inputs, build: (v) => op(v.x) });
add('erf (float32)', {
  inputs: x,
  build: (v) => G.erf(v.x),
  dtype: 'float32',
  step: 1e-2,
  atol: 5e-4,
  rtol: 5e-4,
});
// sign has a zero gradient; composed with a smooth op so the loss still depends on x.
add('sign', { inputs: x, build: (v) => G.mul(G.sign(v.x), G.exp(v.x)) });

// Selection, casts, softmax.
const wx = randomInputs(15, { a: [2, 3], b: [3] });
add('where', { inputs: wx, build: ({ a, b }) => G.where(G.greater(a, 0), G.mul(a, b), G.exp(b)) });
add('cast (float32 → float64 → float32)', {
  inputs: x,
  build: (v) => G.cast(G.exp(G.cast(v.x, 'float64')), 'float32'),
  dtype: 'float32',
  step: 1e-2,
  atol: 5e-4,
  rtol: 5e-4,
});
const s = randomInputs(16, { x: [2, 3, 4] }, { lo: -2, hi: 2 });
add('softmax axis 1', { inputs: s, build: (v) => G.softmax(v.x, 1) });
add('softmax last axis', { inputs: s, build: (v) => G.softmax(v.x, -1) });

// Reductions, with ties avoided (random values).
add('reduceSum', { inputs: s, build: (v) => G.reduceSum(v.x, [0, -1]) });
add('reduceMean keepdims', { inputs: s, build: (v) => G.reduceMean(v.x, [1], true) });
add('reduceMax', { inputs: s, build: (v) => G.reduceMax(v.x, [-1]) });
add('reduceMin keepdims', { inputs: s, build: (v) => G.reduceMin(v.x, [0, 2], true) });
add('reduceMax all', { inputs: s, build: (v) => G.reduceMax(v.x) });

// Layout ops.
add('reshape, squeeze, unsqueeze', { inputs: s, build: (v) => G.unsqueeze(G.reshape(v.x, [4, -1]), 0) });
add('transpose', { inputs: s, build: (v) => G.transpose(v.x, [2, 0, 1]) });
add('expand', { inputs: ab, build: ({ a }) => G.expand(a, [3, 2, 4, 3]) });
const cc = randomInputs(17, { a: [2, 3, 4], b: [2, 1, 4] });
add('concat', { inputs: cc, build: ({ a, b }) => G.concat([a, b, a], -2) });
add('slice with steps and negative bounds', {
  inputs: s,
  build: (v) => G.slice(v.x, [1, -3, 0], [2, 100, 4], [0, 2, 1], [1, 2, 2]),
});
add('slice stride 3 (crop in the gradient)', { inputs: s, build: (v) => G.slice(v.x, [0], [4], [2], [3]) });
add('gather, repeated indices', { inputs: s, build: (v) => G.gather(v.x, [2, 0, 2, -1], 2) });
add('pad with value and crop', {
  inputs: s,
  build: (v) =>
    G.pad(
      v.x,
      [
        [1, 0],
        [-1, 2],
        [2, -1],
      ],
      0.5,
    ),
});

// Matrix products.
const mm = randomInputs(18, { a: [2, 1, 3, 4], b: [3, 4, 2], m: [3, 4], n: [5, 4], c: [5], c2: [3, 1] });
add('matmul, broadcast batch', { inputs: mm, build: ({ a, b }) => G.matmul(a, b) });
add('gemm transB with C [n]', {
  inputs: { m: mm.m, n: mm.n, c: mm.c },
  build: ({ m, n, c }) => G.gemm(m, n, c, { transB: true, alpha: 0.7, beta: 1.3 }),
});
add('gemm transA with C [m,1]', {
  inputs: { m: mm.m, n: mm.n, c: mm.c2 },
  build: ({ m, n, c }) => G.gemm(G.transpose(m, [1, 0]), n, c, { transA: true, transB: true }),
});
add('gemm without C', {
  inputs: { m: mm.m, n: mm.n },
  build: ({ m, n }) => G.gemm(n, m, undefined, { transB: true }),
});
add('linear', {
  inputs: randomInputs(19, { x: [2, 3, 4], w: [5, 4], b: [5] }),
  build: ({ x: v, w, b }) => G.linear(v, w, b),
});

// Normalization (float64 statistics through stash_type).
add('layerNorm', {
  inputs: randomInputs(20, { x: [2, 3, 4], s: [4], b: [4] }),
  build: ({ x: v, s: sc, b }) => G.layerNorm(v, sc, b),
});
add('groupNorm', {
  inputs: randomInputs(21, { x: [2, 4, 2, 3], s: [4], b: [4] }),
  build: ({ x: v, s: sc, b }) => G.groupNorm(v, sc, b, 2),
});

// Convolutions and resizing: float32, linear in each argument (see the header).
const linear32 = { dtype: 'float32', step: 0.25, atol: 1e-4, rtol: 1e-4 } as const;
const conv = randomInputs(22, {
  x: [2, 4, 5, 6],
  w: [6, 4, 3, 3],
  b: [6],
  wg: [6, 2, 2, 3],
  wd: [4, 1, 3, 3],
});
add('conv2d with bias', {
  ...linear32,
  inputs: { x: conv.x, w: conv.w, b: conv.b },
  build: ({ x: v, w, b }) => G.conv2d(v, w, b),
});
add('conv2d stride 2, padding 1 (odd sizes: output_padding)', {
  ...linear32,
  inputs: { x: conv.x, w: conv.w },
  build: ({ x: v, w }) => G.conv2d(v, w, undefined, { stride: 2, padding: 1 }),
});
add('conv2d stride 3, dilation 2, padding 2', {
  ...linear32,
  inputs: { x: conv.x, w: conv.w, b: conv.b },
  build: ({ x: v, w, b }) => G.conv2d(v, w, b, { stride: 3, dilation: 2, padding: 2 }),
});
add('conv2d groups 2, stride 2', {
  ...linear32,
  inputs: { x: conv.x, w: conv.wg, b: conv.b },
  build: ({ x: v, w, b }) => G.conv2d(v, w, b, { groups: 2, stride: 2 }),
});
add('conv2d depthwise, padding 1', {
  ...linear32,
  inputs: { x: conv.x, w: conv.wd },
  build: ({ x: v, w }) => G.conv2d(v, w, undefined, { groups: 4, padding: 1 }),
});
add('upsampleNearest ×2', {
  ...linear32,
  inputs: randomInputs(23, { x: [1, 2, 2, 3] }),
  build: (v) => G.upsampleNearest(v.x, 2),
});

describe('gradients against central finite differences', () => {
  for (const [name, check] of Object.entries(cases)) {
    it(name, () => checkGradient(check, cacheDir));
  }
});
