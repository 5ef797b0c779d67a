/**
 * Philox4x32-10 counter-based generator (Salmon, Moraes, Dror & Shaw, SC'11; the Random123 library),
 * the block function behind cuRAND's `curandStatePhilox4_32_10_t` and so behind PyTorch's CUDA sampling.
 *
 * One call maps a 128-bit counter and a 64-bit key to 128 random bits: ten rounds, each two 32x32->64
 * multiplies plus xors, with the key bumped by the Weyl constants between rounds.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9; // golden ratio
const W1 = 0xbb67ae85; // sqrt(3) - 1

/** High 32 bits of the 64-bit product of two uint32s, exact in doubles (each partial product < 2^48). */
function mulhi32(a: number, b: number): number {
  const high = (a >>> 16) * b;
  const low = (a & 0xffff) * b;
  return Math.floor((high + Math.floor(low / 65536)) / 65536) >>> 0;
}

/**
 * Philox4x32-10 of counter (c0, c1, c2, c3) and key (k0, k1), all uint32, c0 and k0 the low words.
 * Writes the four output words into `out`.
 */
export function philox4x32_10(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}
