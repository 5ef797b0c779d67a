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

  it('recomputes its gradient in query chunks that match plain attention, with a chunk not dividing N', async () => {
    // 23 queries in chunks of 5 (4 full, 1 of 3), self-attention and cross-attention keys; chunk 64 > N is one.
    for (const [keys, chunk] of [
      [23, 5],
      [9, 5],
      [23, 64],
    ]) {
      const g = new G.Graph();
      const q = g.input('q', [2, 23, 12]);
      const k = g.input('k', [2, keys, 12]);
      const v = g.input('v', [2, keys, 12]);
      const seed = g.input('seed', [2, 23, 12]);
      const options = { heads: 3, scale: 0.7 };
      const loss = (out: G.Value) => G.reduceSum(G.mul(G.mul(out, out), seed));
      const chunked = G.grad(loss(multiHeadAttention(q, k, v, options.heads, options.scale, chunk)), [
        q,
        k,
        v,
      ]);
      const plain = G.grad(loss(plainAttention(q, k, v, options)), [q, k, v]);
      // Only the query gradient (cross-attention on a constant text): the rule must skip dK and dV.
      const onlyQ = G.grad(loss(multiHeadAttention(q, k, v, options.heads, options.scale, chunk)), [q])[0];
      const outputs: Record<string, G.Value> = { onlyQ };
      chunked.forEach((d, i) => {
        outputs[`chunked${i}`] = d;
      });
      plain.forEach((d, i) => {
        outputs[`plain${i}`] = d;
      });
      const compiled = await CompiledGraph.compile(outputs, { cacheDir });
      const out = await compiled.run({
        q: random(q.size, 5),
        k: random(k.size, 6),
        v: random(v.size, 7),
        seed: random(seed.size, 8),
      });
      await compiled.release();
      for (const [a, b] of [
        ['chunked0', 'plain0'],
        ['chunked1', 'plain1'],
        ['chunked2', 'plain2'],
        ['onlyQ', 'plain0'],
      ]) {
        const x = out[a].data as Float32Array;
        const y = out[b].data as Float32Array;
        const scale = y.reduce((m, yi) => Math.max(m, Math.abs(yi)), 0);
        const worst = x.reduce((m, xi, i) => Math.max(m, Math.abs(xi - y[i])), 0);
        expect(scale, `${b} is not trivially zero`).toBeGreaterThan(1e-3);
        expect(worst, `${a} vs ${b} (${keys} keys, chunk ${chunk})`).toBeLessThan(1e-5 * Math.max(1, scale));
      }
    }
  });
});
