import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { multiHeadAttention, plainAttention } from '../../src/graph/ops/multiHeadAttention.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import { useCacheDir } from './harness.ts';

const cacheDir = useCacheDir();

const random = (n: number, seed: number) => {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 31 - 1;
  });
};

describe('fused multi-head attention (com.microsoft MultiHeadAttention)', () => {
  it('matches plain attention, with cross-attention keys, and so do its gradients', async () => {
    const g = new G.Graph();
    const q = g.input('q', [2, 12, 16]);
    const k = g.input('k', [2, 7, 16]);
    const v = g.input('v', [2, 7, 16]);
    const seed = g.input('seed', [2, 12, 16]);
    const options = { heads: 4, scale: 0.5 };
    const fused = multiHeadAttention(q, k, v, options.heads, options.scale);
    const plain = plainAttention(q, k, v, options);
    const loss = (out: G.Value) => G.reduceSum(G.mul(out, seed));
    const fusedGrads = G.grad(loss(fused), [q, k, v]);
    const plainGrads = G.grad(loss(plain), [q, k, v]);
    const outputs: Record<string, G.Value> = { fused, plain };
    fusedGrads.forEach((d, i) => {
      outputs[`fused${i}`] = d;
    });
    plainGrads.forEach((d, i) => {
      outputs[`plain${i}`] = d;
    });
    const compiled = await CompiledGraph.compile(outputs, { cacheDir });
    const out = await compiled.run({
      q: random(q.size, 1),
      k: random(k.size, 2),
      v: random(v.size, 3),
      seed: random(seed.size, 4),
    });
    await compiled.release();
    for (const [a, b] of [
      ['fused', 'plain'],
      ['fused0', 'plain0'],
      ['fused1', 'plain1'],
      ['fused2', 'plain2'],
    ]) {
      const x = out[a].data as Float32Array;
      const y = out[b].data as Float32Array;
      const worst = x.reduce((m, xi, i) => Math.max(m, Math.abs(xi - y[i])), 0);
      expect(worst, `${a} vs ${b}`).toBeLessThan(1e-5);
    }
  });
});
