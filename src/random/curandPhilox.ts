/**
 * The cuRAND device API for `curandStatePhilox4_32_10_t` as PyTorch's CUDA kernels use it:
 * `curand_init(seed, subsequence, offset)`, `curand4` and `curand_normal4`.
 *
 * Layout (cuRAND's documented semantics): the 64-bit seed is the Philox key (low word first); the
 * subsequence is added to the high 64 bits of the 128-bit counter and the offset, counted in 32-bit
 * outputs, to the low 64 bits (offset / 4 blocks, offset % 4 words into the block).
 *
 * Box-Muller (`_curand_box_muller`): a pair of words (x, y) gives
 *   u = x * 2^-32 + 2^-33,  v = y * (2^-32 * 2pi) + 2^-33 * 2pi   (float32, fused multiply-add)
 *   s = sqrt(-2 log u);  result = (s * sin v, s * cos v)     (sine first)
 * On the GPU, log is CUDA's `logf` (<= 1 ulp) and sin/cos come from `__sincosf`, the hardware
 * approximation (absolute error ~2^-21.4). Here they are computed in double and rounded to float32, so
 * a value may differ from the GPU's by a few float32 ulps; about 1e-5 absolute at worst (|s| <= 6.7).
 */

import { fma32 } from './float32Fma.ts';
import { philox4x32_10 } from './philox.ts';
import { type Seed, seedWords } from './seed.ts';

const f = Math.fround;
/** cuRAND's CURAND_2POW32_INV and CURAND_2POW32_INV_2PI, float32 constants from curand_normal_static.h. */
const POW32_INV = f(2.3283064e-10);
const POW32_INV_2PI = f(POW32_INV * f(6.2831855));
const HALF_POW32_INV = f(POW32_INV / 2);
const HALF_POW32_INV_2PI = f(POW32_INV_2PI / 2);

/** `_curand_box_muller(x, y)`: two standard normals (sine part, cosine part) from two 32-bit words. */
export function curandBoxMuller(x: number, y: number, out: Float32Array | Float64Array, at: number): void {
  // The uint32 -> float conversion rounds to nearest; nvcc fuses the multiply and the add.
  const u = fma32(f(x), POW32_INV, HALF_POW32_INV);
  const v = fma32(f(y), POW32_INV_2PI, HALF_POW32_INV_2PI);
  const s = f(Math.sqrt(f(-2 * f(Math.log(u)))));
  out[at] = f(s * f(Math.sin(v)));
  out[at + 1] = f(s * f(Math.cos(v)));
}

/** A `curandStatePhilox4_32_10_t`: 128-bit counter, 64-bit key, and the position inside the current block. */
export class CurandPhiloxState {
  private readonly ctr = new Uint32Array(4);
  private readonly key0: number;
  private readonly key1: number;
  private readonly output = new Uint32Array(4);
  private word = 0; // cuRAND's STATE: next word of `output` to hand out

  /** `curand_init(seed, subsequence, offset, &state)`. Subsequence and offset must be below 2^53. */
  constructor(seed: Seed, subsequence: number, offset: number) {
    const { lo, hi } = seedWords(seed);
    this.key0 = lo;
    this.key1 = hi;
    // skipahead_sequence: subsequence goes to the high 64 bits of the counter.
    this.ctr[2] = subsequence >>> 0;
    this.ctr[3] = Math.floor(subsequence / 4294967296) >>> 0;
    // skipahead: whole blocks to the low 64 bits, the remainder selects the word.
    this.word = offset % 4;
    this.addToCounter(Math.floor(offset / 4));
    this.refill();
  }

  private addToCounter(n: number): void {
    const c = this.ctr;
    let carry = n;
    for (let i = 0; i < 4 && carry !== 0; i++) {
      const sum = c[i] + (carry % 4294967296);
      c[i] = sum >>> 0;
      carry = Math.floor(carry / 4294967296) + (sum >= 4294967296 ? 1 : 0);
    }
  }

  private refill(): void {
    const c = this.ctr;
    philox4x32_10(c[0], c[1], c[2], c[3], this.key0, this.key1, this.output);
  }

  /** `curand4(&state)`: the next four 32-bit outputs, written to `out`. */
  curand4(out: Uint32Array): void {
    const current = this.output.slice();
    this.addToCounter(1);
    this.refill();
    // When the state is mid-block, the four words straddle the current and the next block.
    for (let i = 0; i < 4; i++) {
      const w = this.word + i;
      out[i] = w < 4 ? current[w] : this.output[w - 4];
    }
  }

  /** `curand_normal4(&state)`: Box-Muller on (x, y) and (z, w) of one `curand4`. */
  curandNormal4(out: Float32Array): void {
    const words = new Uint32Array(4);
    this.curand4(words);
    curandBoxMuller(words[0], words[1], out, 0);
    curandBoxMuller(words[2], words[3], out, 2);
  }
}
