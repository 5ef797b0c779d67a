import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';

describe('countFlops', () => {
  it('counts 2·MACs for Conv and MatMul/Gemm and one per output element for the rest', () => {
    const g = new G.Graph();
    const x = g.input('x', [1, 3, 8, 8]);
    const w = g.input('w', [4, 3, 3, 3]);
    const y = G.conv2d(x, w, undefined, { padding: 1 }); // 4·8·8 outputs × 27 MACs
    const a = g.input('a', [2, 5, 3]);
    const b = g.input('b', [3, 7]);
    const m = G.matmul(a, b); // 2·5·7 outputs × 3 MACs
    const c = g.input('c', [6, 4]);
    const gm = G.gemm(c, g.input('d', [5, 4]), g.input('e', [5]), { transB: true }); // 6·5 × 4, + C
    const s = G.add(y, 1); // 256 elements
    G.mul(s, 2); // dead: not an ancestor of the outputs
    const count = G.countFlops([s, m, gm]);
    expect(count.conv).toBe(2 * 256 * 27);
    expect(count.matmul).toBe(2 * 70 * 3 + (2 * 30 * 4 + 30));
    expect(count.elementwise).toBe(256);
    expect(count.total).toBe(count.conv + count.matmul + count.elementwise);
    expect(count.byOp).toEqual({ Conv: 13824, MatMul: 420, Gemm: 270, Add: 256 });
  });

  it('counts the transposed convolution of an input gradient like the forward convolution', () => {
    const g = new G.Graph();
    const x = g.input('x', [1, 3, 8, 8]);
    const w = g.input('w', [4, 3, 3, 3]);
    const y = G.conv2d(x, w, undefined, { stride: 2, padding: 1 });
    const loss = G.reduceSum(G.mul(y, y));
    const [dx] = G.grad(loss, [x]);
    const count = G.countFlops([loss, dx]);
    // Forward: 4·4·4 outputs × 27 MACs; ConvTranspose spreads each of the 64 gradient entries over 3·9 inputs.
    expect(count.byOp.Conv).toBe(2 * 64 * 27);
    expect(count.byOp.ConvTranspose).toBe(2 * 64 * 27);
  });

  it('counts shared nodes once', () => {
    const g = new G.Graph();
    const x = g.input('x', [10]);
    const y = G.exp(x);
    expect(G.countFlops([G.add(y, y), y]).total).toBe(20);
  });
});
