/**
 * PyTorch's CPU generator, `torch.Generator('cpu')`: an MT19937 engine plus the cached second normal of
 * the double Box-Muller sampler. Successive calls continue the same stream, so drawing several latents
 * in a row (as diffusers does for `num_images_per_prompt`) matches PyTorch call for call.
 */

import { Mt19937 } from './mt19937.ts';
import { type Seed, seedToUint64 } from './seed.ts';
import { shapeNumel } from './shape.ts';
import { fillRandnTorchCpu, type TorchCpuRandomSource } from './torchCpuNormal.ts';

/** `default_rng_seed_val` in c10: the seed of a `torch.Generator()` nobody seeded. */
export const TORCH_DEFAULT_SEED = 67280421310721n;

const TWO_POW_32 = 4294967296;

export class TorchCpuGenerator implements TorchCpuRandomSource {
  private engine: Mt19937;
  private seedValue: bigint;
  private nextDoubleNormal: number | undefined;

  constructor(seed: Seed = TORCH_DEFAULT_SEED) {
    this.seedValue = seedToUint64(seed);
    this.engine = new Mt19937(Number(this.seedValue & 0xffffffffn));
  }

  /** Reseeds like `generator.manual_seed(seed)`: fresh engine, cached normal dropped. */
  manualSeed(seed: Seed): this {
    this.seedValue = seedToUint64(seed);
    this.engine = new Mt19937(Number(this.seedValue & 0xffffffffn));
    this.nextDoubleNormal = undefined;
    return this;
  }

  /** The seed as `generator.initial_seed()` reports it (uint64). */
  initialSeed(): bigint {
    return this.seedValue;
  }

  /** `random()`: the next 32-bit engine output. */
  random(): number {
    return this.engine.nextUint32();
  }

  /** `random64()`: two engine outputs, the first one in the high word. Returned as a bigint. */
  random64(): bigint {
    const hi = this.engine.nextUint32();
    const lo = this.engine.nextUint32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  uniformFloat(): number {
    // Low 24 bits of one output, scaled by 2^-24: exact in float32, in [0, 1).
    return (this.engine.nextUint32() & 0xffffff) / 16777216;
  }

  /** `at::uniform_real_distribution<double>(0, 1)`: low 53 bits of random64() times 2^-53. */
  uniformDouble(): number {
    const hi = this.engine.nextUint32();
    const lo = this.engine.nextUint32();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) / 9007199254740992;
  }

  normalDouble(): number {
    const cached = this.nextDoubleNormal;
    if (cached !== undefined) {
      this.nextDoubleNormal = undefined;
      return cached;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    // PyTorch 1.13 writes log(1 - u2) (later versions log1p(-u2)); 1 - u2 is exact, so both agree up to
    // libm rounding, which the float32 cast hides.
    const radius = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.nextDoubleNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }

  /** `torch.randn(shape, generator=this, dtype=torch.float32)`, continuing this generator's stream. */
  randn(shape: readonly number[]): Float32Array {
    const out = new Float32Array(shapeNumel(shape));
    fillRandnTorchCpu(this, out);
    return out;
  }
}
