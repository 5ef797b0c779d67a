/**
 * 32-bit Mersenne Twister (MT19937), as used by PyTorch's CPU generator (`at::mt19937`).
 *
 * PyTorch seeds it with Matsumoto & Nishimura's `init_genrand` recurrence applied to the low 32 bits
 * of the 64-bit seed (the high 32 bits are dropped), so `manual_seed(s)` and `manual_seed(s + 2**32)`
 * give the same stream. The output is the standard MT19937 stream (first output for seed 5489 is
 * 3499211612, the C++ `std::mt19937` reference value).
 */

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

export class Mt19937 {
  private readonly state = new Uint32Array(N);
  private index = N;

  /** `seed32` is taken modulo 2^32, as PyTorch does with its 64-bit seed. */
  constructor(seed32: number) {
    const s = this.state;
    s[0] = seed32 >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = s[i - 1];
      // 1812433253 * (prev ^ (prev >>> 30)) + i, modulo 2^32.
      s[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
  }

  /** Regenerates all 624 words at once (the "twist"). */
  private twist(): void {
    const s = this.state;
    for (let i = 0; i < N; i++) {
      const y = (s[i] & UPPER_MASK) | (s[(i + 1) % N] & LOWER_MASK);
      s[i] = s[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
    }
    this.index = 0;
  }

  /** Next 32-bit output as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}
