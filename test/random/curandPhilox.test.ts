import { describe, expect, it } from 'vitest';
import { CurandPhiloxState, curandBoxMuller } from '../../src/random/curandPhilox.ts';
import { philox4x32_10 } from '../../src/random/philox.ts';

function block(c0: number, c2: number, c3: number, seed: bigint): number[] {
  const out = new Uint32Array(4);
  philox4x32_10(c0, 0, c2, c3, Number(seed & 0xffffffffn), Number(seed >> 32n), out);
  return [...out];
}

describe('CurandPhiloxState (curand_init / curand4 layout)', () => {
  const seed = 0x123456789abcdefn;

  it('puts the seed in the key, the subsequence in the high counter words, offset/4 in the low word', () => {
    const state = new CurandPhiloxState(seed, 2 ** 32 + 7, 8);
    const out = new Uint32Array(4);
    state.curand4(out);
    expect([...out]).toEqual(block(2, 7, 1, seed));
    state.curand4(out);
    expect([...out]).toEqual(block(3, 7, 1, seed));
  });

  it('starts mid-block when the offset is not a multiple of 4', () => {
    // offset 6 = one whole block plus two words: the first curand4 is words 2,3 of block 1 and 0,1 of block 2.
    const state = new CurandPhiloxState(seed, 5, 6);
    const out = new Uint32Array(4);
    state.curand4(out);
    const b1 = block(1, 5, 0, seed);
    const b2 = block(2, 5, 0, seed);
    expect([...out]).toEqual([b1[2], b1[3], b2[0], b2[1]]);
  });
});

describe('curandBoxMuller', () => {
  it('returns the sine half first, with u = x/2^32 + 2^-33 and v = 2pi (y/2^32 + 2^-33)', () => {
    // Hand values: x = 2^31 gives u = 0.5 (2^-33 is lost in float32), so s = sqrt(2 ln 2) = 1.17741002;
    // y = 2^30 gives v = float32(2pi)/4 = pi/2 + 4.37e-8 (the extra 2^-31 is lost), so sin v = 1 and
    // s * cos v = -5.1e-8.
    const out = new Float64Array(2);
    curandBoxMuller(2 ** 31, 2 ** 30, out, 0);
    expect(out[0]).toBeCloseTo(1.17741002, 6);
    expect(Math.abs(out[1])).toBeLessThan(1e-6);
    // x = 0: the smallest u = 2^-33 gives the largest radius sqrt(66 ln 2) = 6.7636; y = 0: v = pi / 2^32.
    curandBoxMuller(0, 0, out, 0);
    expect(out[1]).toBeCloseTo(Math.sqrt(66 * Math.LN2), 5);
    expect(out[0]).toBeCloseTo(Math.sqrt(66 * Math.LN2) * (Math.PI / 2 ** 32), 12);
  });
});
