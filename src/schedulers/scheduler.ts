/** The contract every diffusers-compatible scheduler here fulfils. */

export type SchedulerKind = 'pndm' | 'ddim' | 'euler' | 'euler-a' | 'dpm++';

/**
 * Standard normal float32 noise of `shape`, drawn like `torch.randn(shape, generator=g)` so that a
 * PyTorch-compatible generator reproduces diffusers' draws (one call per ancestral step).
 */
export type NoiseSource = (shape: readonly number[]) => Float32Array;

/**
 * A scheduler configured for one run of `numInferenceSteps`. Latents are flat float32 arrays of any
 * shape. Loop index i runs over `timesteps`: the UNet gets `scaleModelInput(z, i)` and `timesteps[i]`,
 * then `z = step(eps, i, z)`. Stateful schedulers (PNDM, DPM-Solver, Euler ancestral's noise) must
 * see the steps in order from 0; use `reset()` or a fresh instance for each image.
 */
export interface Scheduler {
  readonly kind: SchedulerKind;
  /** The diffusers class this reproduces, e.g. "PNDMScheduler". */
  readonly className: string;
  /** The config after applying the class defaults, as `from_config` would store it. */
  readonly config: Readonly<Record<string, unknown>>;
  /** One entry per loop iteration, as the UNet receives them (Euler's may be fractional). */
  readonly timesteps: readonly number[];
  /** The k-diffusion sigmas (float32, one more than timesteps) for Euler schedulers, else null. */
  readonly sigmas: Float32Array | null;
  /** The initial latent is `randn · initNoiseSigma`. */
  readonly initNoiseSigma: number;
  /** The UNet input at loop index `stepIndex` (a new array, or `sample` itself when unscaled). */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /**
   * What `scaleModelInput` divides by at `stepIndex` (float32; 1 where it leaves the sample as it is), for a
   * graph that scales its input itself and must round as the scheduler does.
   */
  modelInputDivisor(stepIndex: number): number;
  /** The latent after loop index `stepIndex` (`prev_sample`), as a new array. */
  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array;
  /** Forgets the multistep history so the same instance can start another image. */
  reset(): void;
}

/** Throws unless `stepIndex` is the next step of a stateful scheduler. */
export function expectStepInOrder(className: string, stepIndex: number, expected: number): void {
  if (stepIndex !== expected) {
    throw new Error(
      `${className}.step: got loop index ${stepIndex} but the next step is ${expected}; ` +
        'steps must run in order from 0 (call reset() to start a new image)',
    );
  }
}

/** Throws when a model output and a sample differ in size. */
export function expectSameLength(className: string, modelOutput: Float32Array, sample: Float32Array): void {
  if (modelOutput.length !== sample.length) {
    throw new Error(
      `${className}.step: model output has ${modelOutput.length} values but the sample has ${sample.length}`,
    );
  }
}

/** Throws when a loop index is outside the timesteps. */
export function expectStepIndex(className: string, stepIndex: number, count: number): void {
  if (!Number.isInteger(stepIndex) || stepIndex < 0 || stepIndex >= count) {
    throw new Error(`${className}: loop index ${stepIndex} is outside 0..${count - 1}`);
  }
}
