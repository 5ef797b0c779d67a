import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from '../../src/weights/halfFloat.ts';

/** Reference decoding of a half bit pattern by arithmetic, independent of the bit manipulation. */
function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

describe('float16 conversions', () => {
  it('decodes all 65536 half values exactly and encodes them back', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = float16BitsToFloat32(all);
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const expected = halfValue(h);
      const ok = Number.isNaN(expected)
        ? Number.isNaN(decoded[h]) && (float32ToFloat16Bits(decoded[h]) & 0x7c00) === 0x7c00
        : Object.is(decoded[h], expected) && float32ToFloat16Bits(decoded[h]) === h;
      if (!ok) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('rounds float32 to the nearest half, ties to even, with overflow to Inf', () => {
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // rounds past the largest half
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff);
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal
    expect(float32ToFloat16Bits(1.5 * 2 ** -25)).toBe(1);
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(2); // subnormal tie to even
    expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    expect(float32ToFloat16Bits(2 ** -30)).toBe(0);
  });
});

describe('bfloat16 conversions', () => {
  it('decodes bit patterns by shifting into the high half', () => {
    const decoded = bfloat16BitsToFloat32(Uint16Array.from([0x3f80, 0xc000, 0x7f80, 0x0001]));
    expect(Array.from(decoded)).toEqual([1, -2, Infinity, 2 ** -133]);
  });

  it('rounds to nearest even and keeps NaN a NaN', () => {
    expect(float32ToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie, even stays
    expect(float32ToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(float32ToBfloat16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(bfloat16BitsToFloat32(Uint16Array.from([float32ToBfloat16Bits(Number.NaN)]))[0]).toBeNaN();
  });
});
