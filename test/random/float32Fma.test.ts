import { describe, expect, it } from 'vitest';
import { fma32 } from '../../src/random/float32Fma.ts';

describe('fma32', () => {
  const a = 1 + 2 ** -12; // a * a = 1 + 2^-11 + 2^-24 exactly: a float32 midpoint
  const down = 1 + 2 ** -11; // even neighbour
  const up = 1 + 2 ** -11 + 2 ** -23;

  it('rounds an exact tie to even', () => {
    expect(fma32(a, a, 0)).toBe(down);
  });

  it('uses the part of the addend that the double sum loses to break a tie', () => {
    // In double, (a*a) + 2^-60 rounds back to the midpoint; Math.fround would then give `down`.
    expect(Math.fround(a * a + 2 ** -60)).toBe(down);
    expect(fma32(a, a, 2 ** -60)).toBe(up);
    expect(fma32(a, a, -(2 ** -60))).toBe(down);
    expect(fma32(-a, a, 2 ** -60)).toBe(-down);
    expect(fma32(-a, a, -(2 ** -60))).toBe(-up);
  });

  it('differs from a separately rounded multiply-add where the product is inexact', () => {
    // a*a rounded first loses 2^-24, so adding -1 gives 2^-11; fused, the exact 2^-11 + 2^-24 survives.
    expect(Math.fround(Math.fround(a * a) - 1)).toBe(2 ** -11);
    expect(fma32(a, a, -1)).toBe(2 ** -11 + 2 ** -24);
  });
});
