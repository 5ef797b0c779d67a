import { describe, expect, it } from 'vitest';
import {
  bootstrapMeanInterval,
  bootstrapMeans,
  bootstrapRelativeChange,
  quantile,
} from '../../src/benchmark/report/bootstrap.ts';

describe('bootstrapMeanInterval', () => {
  it('gives a zero-width interval at the value for a constant sample', () => {
    const result = bootstrapMeanInterval(Array(37).fill(0.3125));
    expect(result).toEqual({ mean: 0.3125, low: 0.3125, high: 0.3125, n: 37 });
    expect(bootstrapMeanInterval([0.7])).toEqual({ mean: 0.7, low: 0.7, high: 0.7, n: 1 });
  });

  it('spans the two points of a two-point sample, with the midpoint drawn half the time', () => {
    // Resampling {a, b} twice gives a, (a+b)/2, b with probabilities 1/4, 1/2, 1/4: the 2.5% and 97.5%
    // quantiles of 2000 means are a and b exactly (about 500 draws of each end, far more than 50).
    const result = bootstrapMeanInterval([0.25, 0.75], { resamples: 2000 });
    expect(result).toEqual({ mean: 0.5, low: 0.25, high: 0.75, n: 2 });
    const means = [...bootstrapMeans([0.25, 0.75], 4000, 1)];
    const share = (v: number) => means.filter((m) => m === v).length / means.length;
    // Binomial standard error for 4000 draws: 0.0079 at p = 1/2, 0.0068 at p = 1/4; bounds are 4 of them.
    expect(Math.abs(share(0.5) - 0.5)).toBeLessThan(0.032);
    expect(Math.abs(share(0.25) - 0.25)).toBeLessThan(0.028);
    expect(Math.abs(share(0.75) - 0.25)).toBeLessThan(0.028);
  });

  it('agrees with the normal approximation mean ± 1.96·σ/√n on a large sample', () => {
    // 120 ones and 280 zeros: p = 0.3, σ/√n = √(0.3·0.7/400) = 0.02291, half width 1.96·σ/√n = 0.04491.
    const values = Array.from({ length: 400 }, (_, i) => (i % 10 < 3 ? 1 : 0));
    const halfWidth = 1.959964 * Math.sqrt((0.3 * 0.7) / 400);
    const result = bootstrapMeanInterval(values, { resamples: 4000, seed: 3 });
    expect(result.mean).toBeCloseTo(0.3, 12);
    // Measured: low 0.2575 (normal 0.2551), high 0.3475 (normal 0.3449), |Δ| ≤ 0.0026; the Monte Carlo error
    // of a 2.5% quantile of 4000 means is about 0.06·σ/√n = 0.0014, and the means move in steps of 1/400.
    expect(Math.abs(result.low - (0.3 - halfWidth))).toBeLessThan(0.004);
    expect(Math.abs(result.high - (0.3 + halfWidth))).toBeLessThan(0.004);
  });

  it('is the same for the same seed and differs for another', () => {
    const values = [0.1, 0.4, 0.35, 0.8, 0.2, 0.55, 0.3];
    expect(bootstrapMeanInterval(values, { seed: 5 })).toEqual(bootstrapMeanInterval(values, { seed: 5 }));
    expect(bootstrapMeanInterval(values, { seed: 5 })).not.toEqual(
      bootstrapMeanInterval(values, { seed: 6 }),
    );
  });

  it('narrows as the confidence drops and keeps the mean inside', () => {
    const values = Array.from({ length: 50 }, (_, i) => Math.sin(i) ** 2);
    const wide = bootstrapMeanInterval(values, { confidence: 0.99 });
    const narrow = bootstrapMeanInterval(values, { confidence: 0.5 });
    expect(wide.low).toBeLessThan(narrow.low);
    expect(wide.high).toBeGreaterThan(narrow.high);
    expect(narrow.low).toBeLessThan(narrow.mean);
    expect(narrow.high).toBeGreaterThan(narrow.mean);
  });

  it('refuses an empty sample and bad options', () => {
    expect(() => bootstrapMeanInterval([])).toThrow(/at least one value/);
    expect(() => bootstrapMeanInterval([1], { resamples: 0 })).toThrow(/resamples/);
    expect(() => bootstrapMeanInterval([1], { confidence: 1 })).toThrow(/confidence/);
  });
});

describe('bootstrapRelativeChange', () => {
  it('gives the exact change with a zero-width interval when every pair changes by the same factor', () => {
    const base = Array.from({ length: 40 }, (_, i) => 0.2 + 0.1 * Math.sin(i) ** 2);
    const result = bootstrapRelativeChange(
      base,
      base.map((b) => b * 1.25),
    )!;
    // Σ(1.25·b) / Σb − 1 = 25% in every resample, whatever the prompts' spread: pairing removes it.
    expect(result.change).toBeCloseTo(25, 10);
    expect(result.low).toBeCloseTo(25, 10);
    expect(result.high).toBeCloseTo(25, 10);
    expect(result.n).toBe(40);
    const constant = bootstrapRelativeChange(Array(9).fill(0.3), Array(9).fill(0.33))!;
    expect([constant.change, constant.low, constant.high].map((v) => v.toFixed(9))).toEqual(
      Array(3).fill('10.000000000'),
    );
  });

  it('keeps a shift of +d inside the bounds the baseline range allows', () => {
    // value = base + 0.02 with base in [0.30, 0.32]: every resample's change is 0.02 / mean(base) · 100,
    // between 6.25% and 6.67%.
    const base = Array.from({ length: 30 }, (_, i) => 0.3 + 0.01 * (i % 3));
    const result = bootstrapRelativeChange(
      base,
      base.map((b) => b + 0.02),
    )!;
    expect(result.change).toBeCloseTo((100 * 0.02) / 0.31, 9);
    expect(result.low).toBeGreaterThanOrEqual(6.25 - 1e-9);
    expect(result.high).toBeLessThanOrEqual(100 * (0.02 / 0.3) + 1e-9);
    expect(result.low).toBeLessThan(result.change);
    expect(result.high).toBeGreaterThan(result.change);
  });

  it('has no change over a zero baseline, and refuses unpaired input', () => {
    expect(bootstrapRelativeChange([0, 0], [1, 0.5])).toBeNull();
    expect(() => bootstrapRelativeChange([1, 2], [1])).toThrow(/equally many pairs/);
    expect(() => bootstrapRelativeChange([], [])).toThrow(/equally many pairs/);
  });
});

describe('quantile', () => {
  it('interpolates linearly between order statistics, as numpy does', () => {
    // numpy.quantile([1, 2, 4, 8], [0, 0.25, 0.5, 0.9, 1]) = [1, 1.75, 3, 6.8, 8]
    const sorted = [1, 2, 4, 8];
    expect([0, 0.25, 0.5, 0.9, 1].map((p) => quantile(sorted, p))).toEqual([
      1, 1.75, 3, 6.800000000000001, 8,
    ]);
  });
});
