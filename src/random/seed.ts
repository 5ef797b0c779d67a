/**
 * Seeds as `torch.Generator.manual_seed` accepts them: integers in [-2^63, 2^64). A negative seed is
 * reinterpreted as its two's-complement uint64, as PyTorch does, so -1 and 2^64 - 1 are the same seed.
 */

export type Seed = number | bigint;

const TWO_64 = 1n << 64n;
const MIN_SEED = -(1n << 63n);

/** The seed as an unsigned 64-bit integer, exactly as PyTorch stores it. */
export function seedToUint64(seed: Seed): bigint {
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be a safe integer or a bigint, got ${seed}`);
  }
  const s = BigInt(seed);
  if (s < MIN_SEED || s >= TWO_64) {
    throw new RangeError(`seed ${s} is outside [-2^63, 2^64)`);
  }
  return s < 0n ? s + TWO_64 : s;
}

/** The low and high 32-bit words of the uint64 seed. */
export function seedWords(seed: Seed): { lo: number; hi: number } {
  const s = seedToUint64(seed);
  return { lo: Number(s & 0xffffffffn), hi: Number(s >> 32n) };
}
