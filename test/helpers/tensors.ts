import { expect } from 'vitest';

export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Asserts max |actual − expected| ≤ rel·max |expected| + abs, the fixtures README's way of stating tolerances,
 * and reports both numbers on failure.
 */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rel: number,
  abs = 0,
): void {
  const diff = maxAbsDiff(actual, expected);
  const bound = rel * maxAbs(expected) + abs;
  expect(diff, `max |Δ| = ${diff}, allowed ${bound} (rel ${rel}, abs ${abs})`).toBeLessThanOrEqual(bound);
}
