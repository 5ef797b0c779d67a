import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { evaluate, expectClose, randomInputs, useCacheDir } from './harness.ts';
import { erf, relu, sigmoid } from './reference/elementwise.ts';
import { map, type Tensor, zip } from './reference/tensor.ts';

const cacheDir = useCacheDir();

// Forward values of the elementwise ops against plain TypeScript, in float64 where ONNX Runtime's CPU provider
// has double kernels (everything here but Erf), so the tolerance only has to cover libm differences (1e-12).

describe('binary elementwise ops', () => {
  const shapes = { a: [2, 1, 3], b: [4, 1], c: [2, 4, 3], p: [2, 4, 3] };
  const inputs = randomInputs(1, shapes);
  // Pow needs a positive base for real results.
  inputs.p = map(inputs.p, (v) => Math.abs(v) + 0.1);

  const ops: [string, (a: G.Value, b: G.Value) => G.Value, (x: number, y: number) => number][] = [
    ['add', G.add, (x, y) => x + y],
    ['sub', G.sub, (x, y) => x - y],
    ['mul', G.mul, (x, y) => x * y],
    ['div', G.div, (x, y) => x / y],
    ['maximum', G.maximum, Math.max],
    ['minimum', G.minimum, Math.min],
  ];

  it('broadcast [2,1,3] with [4,1] and with a full [2,4,3] operand', async () => {
    const g = new G.Graph();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => g.input(n, shapes[n as 'a'], 'float64'));
    const outputs: Record<string, G.Value> = {};
    for (const [name, op] of ops) {
      outputs[`${name}_ab`] = op(a, b);
      outputs[`${name}_ca`] = op(c, a);
    }
    const result = await evaluate(outputs, inputs, cacheDir);
    for (const [name, , f] of ops) {
      expectClose(result[`${name}_ab`], zip(inputs.a, inputs.b, f), { atol: 1e-12, what: `${name}(a, b)` });
      expectClose(result[`${name}_ca`], zip(inputs.c, inputs.a, f), { atol: 1e-12, what: `${name}(c, a)` });
    }
  });

  it('scalar operands on either side, pow, and comparisons through where', async () => {
    const g = new G.Graph();
    const a = g.input('a', shapes.a, 'float64');
    const b = g.input('b', shapes.b, 'float64');
    const p = g.input('p', shapes.p, 'float64');
    const ties = g.constant([0.25, -0.5, 0.25], [3], 'float64');
    const result = await evaluate(
      {
        scalarRight: G.sub(a, 0.5),
        scalarLeft: G.div(2, a),
        scalarValue: G.mul(a, g.scalar(3, 'float64')),
        powScalar: G.pow(p, 1.5),
        powTensor: G.pow(p, G.add(b, 2)),
        greater: G.where(G.greater(a, b), 1, 0),
        less: G.where(G.less(a, b), 1, 0),
        equal: G.where(G.equal(ties, 0.25), 1, 0, 'float64'),
      },
      inputs,
      cacheDir,
    );
    const scalar = (v: number): Tensor => ({ shape: [], data: Float64Array.of(v) });
    const o = { atol: 1e-12, rtol: 1e-12 };
    expectClose(
      result.scalarRight,
      zip(inputs.a, scalar(0.5), (x, y) => x - y),
      o,
    );
    expectClose(
      result.scalarLeft,
      zip(scalar(2), inputs.a, (x, y) => x / y),
      o,
    );
    expectClose(
      result.scalarValue,
      map(inputs.a, (x) => 3 * x),
      o,
    );
    expectClose(
      result.powScalar,
      map(inputs.p, (x) => x ** 1.5),
      o,
    );
    expectClose(
      result.powTensor,
      zip(inputs.p, inputs.b, (x, y) => x ** (y + 2)),
      o,
    );
    expectClose(
      result.greater,
      zip(inputs.a, inputs.b, (x, y) => (x > y ? 1 : 0)),
      o,
    );
    expectClose(
      result.less,
      zip(inputs.a, inputs.b, (x, y) => (x < y ? 1 : 0)),
      o,
    );
    expectClose(result.equal, [1, 0, 1], o);
    expect(result.greater.data).toBeInstanceOf(Float32Array); // numbers alone default to float32
  });
});

describe('unary elementwise ops', () => {
  const ops: [string, (x: G.Value) => G.Value, (x: number) => number][] = [
    ['neg', G.neg, (x) => -x],
    ['exp', G.exp, Math.exp],
    ['abs', G.abs, Math.abs],
    ['sign', G.sign, Math.sign],
    ['sigmoid', G.sigmoid, sigmoid],
    ['tanh', G.tanh, Math.tanh],
    ['relu', G.relu, relu],
    ['identity', G.identity, (x) => x],
    ['sin', G.sin, Math.sin],
    ['cos', G.cos, Math.cos],
  ];
  // Zeros included: sign(0) = 0, relu(0) = 0, abs(0) = 0.
  const x: Tensor = { shape: [2, 5], data: Float64Array.of(-2, -0.5, 0, 0.25, 1.5, 3, -1, 0, 0.75, -0.1) };

  it('match Math on values including zeros (float64)', async () => {
    const g = new G.Graph();
    const v = g.input('x', x.shape, 'float64');
    const positive = G.add(G.abs(v), 0.5);
    const outputs: Record<string, G.Value> = { sqrt: G.sqrt(positive), log: G.log(positive) };
    for (const [name, op] of ops) outputs[name] = op(v);
    const result = await evaluate(outputs, { x }, cacheDir);
    for (const [name, , f] of ops) expectClose(result[name], map(x, f), { atol: 1e-12, what: name });
    expectClose(
      result.sqrt,
      map(x, (t) => Math.sqrt(Math.abs(t) + 0.5)),
      { atol: 1e-12 },
    );
    expectClose(
      result.log,
      map(x, (t) => Math.log(Math.abs(t) + 0.5)),
      { atol: 1e-12 },
    );
  });

  it('erf (float32: the CPU provider has no double Erf)', async () => {
    const g = new G.Graph();
    const result = await evaluate({ y: G.erf(g.input('x', x.shape)) }, { x }, cacheDir);
    // float32 rounding of inputs and outputs: a few ulps of values below 1.
    expectClose(result.y, map(x, erf), { atol: 1e-6, what: 'erf' });
  });
});

describe('where and cast', () => {
  it('where broadcasts its condition and branches', async () => {
    const g = new G.Graph();
    const inputs = randomInputs(2, { a: [2, 3], b: [3] });
    const a = g.input('a', [2, 3], 'float64');
    const b = g.input('b', [3], 'float64');
    const result = await evaluate(
      { y: G.where(G.greater(b, 0), a, b), z: G.where(G.less(a, 0), 7, b) },
      inputs,
      cacheDir,
    );
    expectClose(
      result.y,
      zip(inputs.a, inputs.b, (x, y) => (y > 0 ? x : y)),
      { atol: 0 },
    );
    expectClose(
      result.z,
      zip(inputs.a, inputs.b, (x, y) => (x < 0 ? 7 : y)),
      { atol: 0 },
    );
  });

  it('cast rounds to half precision and truncates to int64 like ONNX', async () => {
    const g = new G.Graph();
    const x: Tensor = { shape: [4], data: Float64Array.of(1.0009765625, 1 + 2 ** -12, -2.75, 65504) };
    const v = g.input('x', [4], 'float64');
    const result = await evaluate(
      {
        half: G.cast(G.cast(v, 'float16'), 'float32'),
        brain: G.cast(G.cast(v, 'bfloat16'), 'float32'),
        int: G.cast(v, 'int64'),
        bool: G.cast(G.cast(v, 'int64'), 'bool'),
      },
      { x },
      cacheDir,
    );
    expectClose(result.half, [1.0009765625, 1, -2.75, 65504], { atol: 0 });
    expectClose(result.brain, [1, 1, -2.75, 65536], { atol: 0 });
    expect(Array.from(result.int.data as BigInt64Array)).toEqual([1n, 1n, -2n, 65504n]);
    expect(Array.from(result.bool.data as Uint8Array)).toEqual([1, 1, 1, 1]);
  });
});
