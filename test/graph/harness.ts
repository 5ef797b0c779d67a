import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { CompiledGraph, type HostTensor } from '../../src/runtime/session.ts';
import { random, type Tensor, uniform } from './reference/tensor.ts';

/** One cache folder per test file, removed at the end, so nothing lands in the user's cache. */
export function useCacheDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dnb-graph-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export type FloatDType = 'float32' | 'float64';

function typed(dtype: FloatDType, values: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

/** Compiles `outputs` and runs it once. Tensor feeds are converted to the input's dtype. */
export async function evaluate(
  outputs: Record<string, G.Value>,
  feeds: Record<string, Tensor>,
  cacheDir: string,
): Promise<Record<string, HostTensor>> {
  const compiled = await CompiledGraph.compile(outputs, { cacheDir, threads: 1 });
  try {
    return await compiled.run(toFeeds(compiled, feeds));
  } finally {
    await compiled.release();
  }
}

function toFeeds(compiled: CompiledGraph, feeds: Record<string, Tensor>) {
  return Object.fromEntries(
    compiled.inputs.map(({ name, dtype }) => [name, typed(dtype as FloatDType, feeds[name].data)]),
  );
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected| everywhere, naming the first failure. */
type Numbers = ArrayLike<number> | BigInt64Array;

export function expectClose(
  actual: HostTensor | Numbers,
  expected: Tensor | Numbers,
  { atol = 1e-5, rtol = 1e-5, what = 'value' } = {},
): void {
  const a = 'shape' in actual && 'data' in actual ? actual.data : actual;
  const e = 'shape' in expected && 'data' in expected ? expected.data : expected;
  if ('shape' in actual && 'shape' in expected) expect([...actual.shape], what).toEqual([...expected.shape]);
  expect(a.length, `${what}: length`).toBe(e.length);
  for (let i = 0; i < e.length; i++) {
    const [x, y] = [Number(a[i]), Number(e[i])];
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y)) && !(Number.isNaN(x) && Number.isNaN(y))) {
      expect.fail(`${what}[${i}]: got ${x}, expected ${y} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Seeded uniform inputs; `avoid` keeps values at least that far from 0 (for kinks of abs, relu...). */
export function randomInputs(
  seed: number,
  shapes: Record<string, readonly number[]>,
  { lo = -1, hi = 1, avoid = 0 } = {},
): Record<string, Tensor> {
  const rng = random(seed);
  return Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => {
      const t = uniform(rng, shape, lo, hi);
      if (avoid > 0) {
        for (let i = 0; i < t.data.length; i++)
          t.data[i] = Math.sign(t.data[i] || 1) * (avoid + Math.abs(t.data[i]));
      }
      return [name, t];
    }),
  );
}

export interface GradientCheck {
  /** Input values; their shapes become the graph inputs. */
  inputs: Record<string, Tensor>;
  /** The function under test. Its output is contracted with fixed random weights into a scalar loss. */
  build: (x: Record<string, G.Value>) => G.Value;
  dtype?: FloatDType;
  /** Central-difference step. */
  step?: number;
  atol?: number;
  rtol?: number;
  /** Inputs that are not differentiated (e.g. fixed weights). */
  constant?: readonly string[];
}

/**
 * Compares `grad` with central finite differences (f(x+h) − f(x−h)) / 2h of the scalar loss
 * Σ build(x)·w, w fixed random weights, so every output entry's gradient matters and none cancel.
 * One compile per check; the finite differences re-run the same session.
 */
export async function checkGradient(check: GradientCheck, cacheDir: string): Promise<void> {
  const { inputs, build, dtype = 'float64', constant = [] } = check;
  const step = check.step ?? (dtype === 'float64' ? 1e-6 : 1e-3);
  const g = new G.Graph();
  const values = Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, g.input(n, t.shape, dtype)]));
  const out = build(values);
  const weights = uniform(random(99), out.shape, 0.5, 1.5);
  const loss = G.reduceSum(G.mul(out, g.constant(Array.from(weights.data), out.shape, dtype)));
  const names = Object.keys(inputs).filter((n) => !constant.includes(n));
  const grads = G.grad(
    loss,
    names.map((n) => values[n]),
  );
  const outputs: Record<string, G.Value> = { loss };
  names.forEach((n, i) => {
    outputs[`d_${n}`] = grads[i];
  });
  const compiled = await CompiledGraph.compile(outputs, { cacheDir, threads: 1 });
  try {
    const feeds = Object.fromEntries(Object.entries(inputs).map(([n, t]) => [n, typed(dtype, t.data)]));
    const analytic = await compiled.run(feeds);
    for (const name of names) {
      const x = feeds[name];
      const numeric = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const original = x[i];
        x[i] = original + step;
        const up = x[i]; // float32 rounds the step; divide by the step actually taken
        const plus = Number((await compiled.run(feeds)).loss.data[0]);
        x[i] = original - step;
        const down = x[i];
        const minus = Number((await compiled.run(feeds)).loss.data[0]);
        x[i] = original;
        numeric[i] = (plus - minus) / (up - down);
      }
      expectClose(analytic[`d_${name}`].data as Float64Array, numeric, {
        atol: check.atol ?? (dtype === 'float64' ? 1e-6 : 2e-3),
        rtol: check.rtol ?? (dtype === 'float64' ? 1e-6 : 2e-3),
        what: `d loss / d ${name}`,
      });
    }
  } finally {
    await compiled.release();
  }
}
