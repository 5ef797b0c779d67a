import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';

// Bad graphs fail when they are built, with a GraphError that names the op and the shapes involved.

function errorOf(build: (g: G.Graph) => unknown): Error {
  try {
    build(new G.Graph());
  } catch (error) {
    expect(error).toBeInstanceOf(G.GraphError);
    return error as Error;
  }
  throw new Error('expected a GraphError');
}

describe('shape errors at build time', () => {
  const cases: [string, (g: G.Graph) => unknown, RegExp][] = [
    [
      'matmul inner dimensions',
      (g) => G.matmul(g.input('a', [2, 3]), g.input('b', [4, 5])),
      /^MatMul: inner dimensions differ: 3 and 4 \(inputs: \[2,3\] float32, \[4,5\] float32\)$/,
    ],
    [
      'matmul rank',
      (g) => G.matmul(g.input('a', [3]), g.input('b', [3, 2])),
      /^MatMul: .*rank 2.*\[3\] float32/,
    ],
    [
      'matmul batch broadcast',
      (g) => G.matmul(g.input('a', [2, 2, 3]), g.input('b', [3, 3, 4])),
      /^MatMul: shapes \[2\] and \[3\] do not broadcast.*\[2,2,3\].*\[3,3,4\]/,
    ],
    [
      'gemm inner dimensions',
      (g) => G.gemm(g.input('a', [2, 3]), g.input('b', [2, 4]), undefined, { transA: false }),
      /^Gemm: inner dimensions differ: 3 and 2 .*\[2,3\].*\[2,4\]/,
    ],
    [
      'gemm C that does not broadcast to the result',
      (g) => G.gemm(g.input('a', [2, 3]), g.input('b', [3, 4]), g.input('c', [3])),
      /^Gemm: .*\[3\].*\[2,4\]/,
    ],
    [
      'gemm C of a larger rank',
      (g) => G.gemm(g.input('a', [2, 3]), g.input('b', [3, 4]), g.input('c', [2, 2, 4])),
      /^Gemm: C of shape \[2,2,4\] does not broadcast to \[2,4\]/,
    ],
    [
      'conv channel mismatch',
      (g) => G.conv2d(g.input('x', [1, 3, 8, 8]), g.input('w', [4, 2, 3, 3])),
      /^Conv: weights expect 2 input channels in 1 groups, input has 3 \(inputs: \[1,3,8,8\] float32, \[4,2,3,3\] float32\)/,
    ],
    [
      'conv kernel larger than the input',
      (g) => G.conv2d(g.input('x', [1, 1, 2, 2]), g.input('w', [1, 1, 3, 3])),
      /^Conv: .*larger.*\[1,1,2,2\]/,
    ],
    [
      'conv bias',
      (g) => G.conv2d(g.input('x', [1, 1, 4, 4]), g.input('w', [2, 1, 3, 3]), g.input('b', [3])),
      /^Conv: bias must have shape \[2\].*\[3\] float32/,
    ],
    [
      'bad reshape',
      (g) => G.reshape(g.input('x', [2, 3]), [4, 2]),
      /^Reshape: cannot reshape .*\[4,2\].*\[2,3\] float32/,
    ],
    [
      'reshape to negative dims',
      (g) => G.reshape(g.input('x', [2, 3]), [-2, -3]),
      /^Reshape: .*\[-2,-3\].*\[2,3\]/,
    ],
    [
      'reshape with two -1',
      (g) => G.reshape(g.input('x', [2, 3]), [-1, -1]),
      /^Reshape: .*\[-1,-1\].*\[2,3\]/,
    ],
    [
      'broadcast failure',
      (g) => G.add(g.input('a', [2, 3]), g.input('b', [4, 3])),
      /^Add: shapes \[2,3\] and \[4,3\] do not broadcast \(inputs: \[2,3\] float32, \[4,3\] float32\)$/,
    ],
    [
      'dtype mismatch',
      (g) => G.mul(g.input('a', [2]), g.input('b', [2], 'float64')),
      /^Mul: dtypes differ: float32 and float64/,
    ],
    [
      'concat mismatch',
      (g) => G.concat([g.input('a', [2, 3]), g.input('b', [3, 3])], 1),
      /^Concat: inputs differ outside axis 1 \(inputs: \[2,3\] float32, \[3,3\] float32\)/,
    ],
    [
      'axis out of range',
      (g) => G.softmax(g.input('x', [2, 3]), 2),
      /Softmax: axis 2 is out of range for rank 2.*\[2,3\]/,
    ],
    [
      'reduce axis out of range',
      (g) => G.reduceSum(g.input('x', [2, 3]), [-3]),
      /ReduceSum: axis -3 .* rank 2.*\[2,3\]/,
    ],
    [
      'transpose perm',
      (g) => G.transpose(g.input('x', [2, 3]), [0, 0]),
      /^Transpose: perm \[0,0\] is not a permutation of 2 axes/,
    ],
    ['expand', (g) => G.expand(g.input('x', [2, 3]), [3, 3]), /^Expand: .*\[3,3\].*\[2,3\]/],
    [
      'group norm groups',
      (g) => G.groupNorm(g.input('x', [1, 6, 2, 2]), g.input('s', [6]), g.input('b', [6]), 4),
      /^GroupNormalization: 6 channels do not split into 4 groups/,
    ],
    [
      'layer norm scale',
      (g) => G.layerNorm(g.input('x', [2, 4]), g.input('s', [3]), g.input('b', [4])),
      /^LayerNormalization: scale and bias must have shape \[4\]/,
    ],
    ['gather index out of range', (g) => G.gather(g.input('x', [2, 3]), [3], 1), /^Gather: index 3 .*3/],
    [
      'gather float indices',
      (g) => G.gather(g.input('x', [2, 3]), g.input('i', [2]), 0),
      /^Gather: indices must be int64/,
    ],
    [
      'where condition',
      (g) => G.where(g.input('c', [2]), 1, 0),
      /^Where: condition must be bool, got float32/,
    ],
    ['pad rank', (g) => G.pad(g.input('x', [2, 3]), [[1, 1]]), /^Pad: needs 2 pad pairs, got 1/],
    [
      'slice step',
      (g) => G.slice(g.input('x', [2, 3]), [0], [2], [0], [-1]),
      /^Slice: step -1 must be a positive integer/,
    ],
    [
      'slice naming an axis twice',
      (g) => G.slice(g.input('x', [2, 3]), [0, 1], [1, 2], [1, -1]),
      /^Slice: axes \[1,-1\] name an axis twice \(inputs: \[2,3\] float32\)/,
    ],
    [
      'squeeze',
      (g) => G.squeeze(g.input('x', [2, 3]), 1),
      /^Squeeze: axis 1 has size 3, not 1 \(inputs: \[2,3\] float32\)/,
    ],
    ['resize scale', (g) => G.upsampleNearest(g.input('x', [1, 1, 2, 2]), 1.5), /^Resize: scale 1.5/],
    [
      'a constant of the wrong size',
      (g) => g.constant([1, 2, 3], [2, 2]),
      /constant has 3 elements but shape \[2,2\]/,
    ],
    ['an invalid input shape', (g) => g.input('x', [2, -1]), /invalid shape \[2,-1\]/],
    [
      'an external weight of the wrong size',
      (g) =>
        g.external({ file: '/m.safetensors', byteOffset: 8, byteLength: 12, name: 'w' }, [2, 2], 'float32'),
      /weight "w" in \/m.safetensors has 12 bytes, but \[2,2\] float32 needs 16/,
    ],
  ];
  for (const [name, build, message] of cases) {
    it(name, () => {
      expect(errorOf(build).message).toMatch(message);
    });
  }

  it('inputs from different graphs', () => {
    const a = new G.Graph().input('a', [2]);
    const b = new G.Graph().input('b', [2]);
    expect(() => G.add(a, b)).toThrow(/Add: inputs belong to different graphs/);
  });
});
