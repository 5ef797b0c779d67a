import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { evaluate, expectClose, useCacheDir } from './harness.ts';
import { tensor } from './reference/tensor.ts';

const { onnx } = onnxProto;
const cacheDir = useCacheDir();

function decode(outputs: Record<string, G.Value>) {
  const model = onnx.ModelProto.decode(G.serialize(outputs).bytes);
  const graph = model.graph!;
  return {
    model,
    ops: graph.node!.map((n) => n.opType),
    inputs: graph.input!.map((i) => i.name),
    outputs: graph.output!.map((o) => o.name),
  };
}

describe('serialisation', () => {
  it('writes opset 21 and IR version 10', () => {
    const g = new G.Graph();
    const { model } = decode({ y: G.exp(g.input('x', [2])) });
    // protobufjs decodes int64 fields as Long objects.
    expect(Number(model.irVersion)).toBe(10);
    expect(model.opsetImport!.map((o) => [o.domain, Number(o.version)])).toEqual([['', 21]]);
  });

  it('drops an unused branch and inputs the outputs do not need', () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 3]);
    const unusedInput = g.input('unused', [4]);
    const loss = G.reduceSum(G.exp(x));
    G.tanh(G.sin(x)); // a dead branch
    G.add(unusedInput, 1);
    const { ops, inputs, outputs } = decode({ loss });
    expect(ops).toEqual(['Exp', 'ReduceSum', 'Identity']); // Identity names the output
    expect(inputs).toEqual(['x']);
    expect(outputs).toEqual(['loss']);
  });

  it('reads a linear weight as stored in the forward and the input gradient: no transpose to fold', () => {
    // ONNX Runtime folds Transpose(W) into a new initializer: a transposed weight in the forward and its
    // transpose again in the gradient would hold every linear weight twice in a guidance session.
    const g = new G.Graph();
    const x = g.input('x', [2, 5, 3]);
    const w = g.input('w', [4, 3]);
    const y = G.linear(x, w, g.input('b', [4]));
    const [dx] = G.grad(G.reduceSum(G.mul(y, y)), [x]);
    const graph = onnx.ModelProto.decode(G.serialize({ y, dx }).bytes).graph!;
    const readers = graph.node!.filter((n) => n.input!.includes('w')).map((n) => n.opType);
    expect(readers.sort()).toEqual(['Gemm', 'MatMul']);
    expect(graph.node!.map((n) => n.opType)).not.toContain('Transpose');
  });

  it('emits only what each requested output needs from a forward-and-gradient graph', () => {
    const g = new G.Graph();
    const x = g.input('x', [2, 3]);
    const w = g.input('w', [3, 4]);
    const y = G.matmul(x, w);
    const loss = G.reduceMax(G.softmax(y, -1));
    const [dx] = G.grad(loss, [x]);
    const forward = decode({ loss });
    expect(forward.ops).toEqual(['MatMul', 'Softmax', 'ReduceMax', 'Identity']);
    // The gradient wrt x needs w but not the gradient wrt w (a MatMul with xᵀ), which was never built, and
    // nothing after it: a single MatMul for x's path and one for y.
    const backward = decode({ dx });
    expect(backward.ops.filter((op) => op === 'MatMul')).toHaveLength(2);
    expect(backward.ops).not.toContain('Sin');
    const both = decode({ loss, dx });
    expect(both.ops.length).toBe(backward.ops.length + 1); // shared nodes once, one more Identity
  });

  it('keeps the caller’s input and output names and steers generated names around them', async () => {
    const g = new G.Graph();
    const inputs = ['v0', 't0', 'c0', 'v5'].map((n) => g.input(n, [2], 'float64'));
    const sum = inputs.reduce((a, b) => G.add(G.mul(a, 2), b));
    const result = await evaluate(
      { v3: sum, c1: G.exp(inputs[0]) },
      Object.fromEntries(['v0', 't0', 'c0', 'v5'].map((n, i) => [n, tensor([2], [i, i + 1])])),
      cacheDir,
    );
    // ((v0·2 + t0)·2 + c0)·2 + v5
    expectClose(result.v3, [((0 * 2 + 1) * 2 + 2) * 2 + 3, ((1 * 2 + 2) * 2 + 3) * 2 + 4], { atol: 0 });
    expectClose(result.c1, [1, Math.E], { atol: 1e-15 });
  });

  it('refuses an output named like an input', () => {
    const g = new G.Graph();
    const x = g.input('x', [2]);
    expect(() => G.serialize({ x: G.exp(x) })).toThrow(/graph input "x" and an output have the same name/);
  });

  it('passes an input straight through to an output', async () => {
    const g = new G.Graph();
    const x = g.input('x', [2], 'float64');
    const result = await evaluate({ same: x, twice: x }, { x: tensor([2], [3, 4]) }, cacheDir);
    expectClose(result.same, [3, 4], { atol: 0 });
    expectClose(result.twice, [3, 4], { atol: 0 });
  });
});
