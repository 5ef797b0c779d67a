import { UserError } from '../errors.ts';
import { alphasCumprodFrom, betasFor, torchLinspaceFloat32 } from './betaSchedule.ts';
import { exp32, log32, sqrt32 } from './float32Math.ts';
import { interpAtIntegerPositions, numpyArange, numpyLinspace, roundHalfEven } from './numpyArrays.ts';
import { expectSameLength, expectStepIndex, type Scheduler } from './scheduler.ts';
import { type RawSchedulerConfig, requireOneOf, resolveConfig } from './schedulerConfig.ts';
import { karrasSigmas, logSigmas, sigmaToTimestep, trainingSigmas } from './sigmaSchedule.ts';

/**
 * diffusers 0.21.4 `EulerDiscreteScheduler` (Karras et al.'s Algorithm 2 with s_churn = 0, the
 * pipeline default, so no noise is used). Timesteps are float64 (numpy), sigmas are interpolated in
 * float64 and stored as float32; the step is float32 in the order of the Python expressions.
 */

const f32 = Math.fround;
const CLASS_NAME = 'EulerDiscreteScheduler';

export const EULER_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as readonly number[] | null,
  prediction_type: 'epsilon',
  interpolation_type: 'linear',
  use_karras_sigmas: false,
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

export type EulerConfig = typeof EULER_DEFAULTS;

/** Timesteps and sigmas of `set_timesteps`, shared with the ancestral variant. */
export interface EulerSchedule {
  timesteps: number[];
  /** float32, one longer than the loop (a final 0). */
  sigmas: Float32Array;
  initNoiseSigma: number;
}

export class EulerDiscreteScheduler implements Scheduler {
  readonly kind = 'euler';
  readonly className = CLASS_NAME;
  readonly config: EulerConfig;
  readonly timesteps: readonly number[];
  readonly sigmas: Float32Array;
  readonly initNoiseSigma: number;

  constructor(raw: RawSchedulerConfig, numInferenceSteps: number) {
    const config = resolveConfig(raw, EULER_DEFAULTS, CLASS_NAME);
    requireOneOf(
      config.prediction_type,
      ['epsilon', 'sample', 'original_sample', 'v_prediction'],
      'prediction_type',
      CLASS_NAME,
    );
    this.config = config;
    const alphasCumprod = alphasCumprodFrom(betasFor(config, CLASS_NAME));
    const schedule = eulerSchedule(config, numInferenceSteps, CLASS_NAME, alphasCumprod);
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.initNoiseSigma = schedule.initNoiseSigma;
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    expectStepIndex(CLASS_NAME, stepIndex, this.timesteps.length);
    return scaleBySigma(sample, this.sigmas[stepIndex]);
  }

  modelInputDivisor(stepIndex: number): number {
    expectStepIndex(CLASS_NAME, stepIndex, this.timesteps.length);
    return sigmaInputDivisor(this.sigmas[stepIndex]);
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array {
    expectStepIndex(CLASS_NAME, stepIndex, this.timesteps.length);
    expectSameLength(CLASS_NAME, modelOutput, sample);
    // gamma = 0, so sigma_hat = sigma * (0 + 1) = sigma.
    const sigma = this.sigmas[stepIndex];
    const predOriginal = predictOriginalSample(this.config.prediction_type, modelOutput, sample, sigma);
    const dt = f32(this.sigmas[stepIndex + 1] - sigma);
    return sample.map((x, k) => {
      const derivative = f32(f32(x - predOriginal[k]) / sigma);
      return x + f32(derivative * dt);
    });
  }

  reset(): void {
    // Euler keeps no state between steps.
  }
}

/** `sample / (sigma**2 + 1) ** 0.5` (`scale_model_input`). */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const scale = sigmaInputDivisor(sigma);
  return sample.map((x) => x / scale);
}

/** sqrt(σ² + 1) in float32, as diffusers computes it on a float32 sigma. */
export function sigmaInputDivisor(sigma: number): number {
  return sqrt32(f32(f32(sigma * sigma) + 1));
}

/** x0 from the model output at `sigma` (k-diffusion's denoised). */
export function predictOriginalSample(
  predictionType: string,
  modelOutput: Float32Array,
  sample: Float32Array,
  sigma: number,
): Float32Array {
  if (predictionType === 'epsilon') return sample.map((x, k) => x - f32(sigma * modelOutput[k]));
  if (predictionType === 'v_prediction') {
    const variance = f32(f32(sigma * sigma) + 1);
    const outputCoeff = f32(-sigma / sqrt32(variance));
    return sample.map((x, k) => f32(modelOutput[k] * outputCoeff) + f32(x / variance));
  }
  return modelOutput.slice();
}

/**
 * `set_timesteps` of the Euler schedulers in 0.21.4: float64 timesteps (`dtype=float`), sigmas by
 * `np.interp` on the float32 training sigmas (or log-linear, or Karras), then a final 0, as float32.
 */
export function eulerSchedule(
  config: Pick<
    EulerConfig,
    'num_train_timesteps' | 'timestep_spacing' | 'steps_offset' | 'interpolation_type' | 'use_karras_sigmas'
  >,
  n: number,
  schedulerName: string,
  alphasCumprod: Float32Array,
): EulerSchedule {
  if (!Number.isInteger(n) || n < 1)
    throw new UserError(`${schedulerName}: need at least one inference step`);
  const trainSteps = config.num_train_timesteps;
  const spacing = requireOneOf(
    config.timestep_spacing,
    ['linspace', 'leading', 'trailing'],
    'timestep_spacing',
    schedulerName,
  );
  let timesteps: number[];
  if (spacing === 'linspace') {
    timesteps = numpyLinspace(0, trainSteps - 1, n).reverse();
  } else if (spacing === 'leading') {
    const ratio = Math.floor(trainSteps / n);
    timesteps = Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + config.steps_offset);
  } else {
    timesteps = numpyArange(trainSteps, 0, -trainSteps / n).map((t) => roundHalfEven(t) - 1);
  }

  const table = trainingSigmas(alphasCumprod);
  const interpolation = requireOneOf(
    config.interpolation_type,
    ['linear', 'log_linear'],
    'interpolation_type',
    schedulerName,
  );
  let sigmas: ArrayLike<number>;
  if (interpolation === 'linear') {
    sigmas = timesteps.map((t) => interpAtIntegerPositions(t, table));
  } else {
    // torch.linspace of the float32 logs (default dtype float32), then exp: n + 1 sigmas.
    const logs = torchLinspaceFloat32(log32(table[table.length - 1]), log32(table[0]), n + 1);
    sigmas = logs.map(exp32);
  }
  if (config.use_karras_sigmas) {
    const logTable = logSigmas(table);
    const karras = karrasSigmas(sigmas, n);
    timesteps = karras.map((sigma) => sigmaToTimestep(sigma, logTable));
    sigmas = karras;
  }
  const finalSigmas = Float32Array.from([...Array.from(sigmas), 0]);
  const maxSigma = finalSigmas.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
  // The `init_noise_sigma` property: float32 tensor ops on sigmas.max().
  const initNoiseSigma =
    spacing === 'linspace' || spacing === 'trailing' ? maxSigma : sqrt32(f32(f32(maxSigma * maxSigma) + 1));
  return { timesteps, sigmas: finalSigmas, initNoiseSigma };
}
