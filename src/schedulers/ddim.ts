import { UserError } from '../errors.ts';
import { alphasCumprodFrom, betasFor, rescaleZeroTerminalSnr } from './betaSchedule.ts';
import { sqrt32 } from './float32Math.ts';
import { numpyArange, numpyLinspace, roundHalfEven } from './numpyArrays.ts';
import { expectSameLength, expectStepIndex, type Scheduler } from './scheduler.ts';
import { type RawSchedulerConfig, requireOneOf, resolveConfig } from './schedulerConfig.ts';

/**
 * diffusers 0.21.4 `DDIMScheduler` with eta = 0 (what the Stable Diffusion pipeline passes): the
 * deterministic DDIM update, float32 in the order of the Python expressions. The previous timestep is
 * always `t - num_train_timesteps // num_inference_steps`, whatever the spacing (as in 0.21.4).
 */

const f32 = Math.fround;
const CLASS_NAME = 'DDIMScheduler';

export const DDIM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as readonly number[] | null,
  clip_sample: true,
  set_alpha_to_one: true,
  steps_offset: 0,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  clip_sample_range: 1.0,
  sample_max_value: 1.0,
  timestep_spacing: 'leading',
  rescale_betas_zero_snr: false,
};

export type DdimConfig = typeof DDIM_DEFAULTS;

export class DdimScheduler implements Scheduler {
  readonly kind = 'ddim';
  readonly className = CLASS_NAME;
  readonly config: DdimConfig;
  readonly timesteps: readonly number[];
  readonly sigmas = null;
  readonly initNoiseSigma = 1;
  readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly stride: number;

  constructor(raw: RawSchedulerConfig, numInferenceSteps: number) {
    const config = resolveConfig(raw, DDIM_DEFAULTS, CLASS_NAME);
    requireOneOf(
      config.prediction_type,
      ['epsilon', 'sample', 'v_prediction'],
      'prediction_type',
      CLASS_NAME,
    );
    if (config.thresholding) {
      throw new UserError(
        `${CLASS_NAME}: thresholding (dynamic thresholding) is not supported; set it to false`,
      );
    }
    const trainSteps = config.num_train_timesteps;
    if (numInferenceSteps > trainSteps) {
      throw new UserError(
        `${CLASS_NAME}: ${numInferenceSteps} inference steps is more than num_train_timesteps (${trainSteps})`,
      );
    }
    this.config = config;
    let betas = betasFor(config, CLASS_NAME);
    if (config.rescale_betas_zero_snr) betas = rescaleZeroTerminalSnr(betas);
    this.alphasCumprod = alphasCumprodFrom(betas);
    this.finalAlphaCumprod = config.set_alpha_to_one ? 1 : this.alphasCumprod[0];
    this.stride = Math.floor(trainSteps / numInferenceSteps);
    this.timesteps = ddimTimesteps(config, numInferenceSteps);
  }

  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    expectStepIndex(CLASS_NAME, stepIndex, this.timesteps.length);
    return sample;
  }

  modelInputDivisor(stepIndex: number): number {
    expectStepIndex(CLASS_NAME, stepIndex, this.timesteps.length);
    return 1;
  }

  step(modelOutput: Float32Array, stepIndex: number, sample: Float32Array): Float32Array {
    expectStepIndex(CLASS_NAME, stepIndex, this.timesteps.length);
    expectSameLength(CLASS_NAME, modelOutput, sample);
    const timestep = this.timesteps[stepIndex];
    const prevTimestep = timestep - this.stride;
    const alphaProd = this.alphasCumprod[timestep];
    const alphaProdPrev = prevTimestep >= 0 ? this.alphasCumprod[prevTimestep] : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const sqrtAlpha = sqrt32(alphaProd);
    const sqrtBeta = sqrt32(betaProd);

    let predOriginal: Float32Array;
    let predEpsilon: Float32Array;
    switch (this.config.prediction_type) {
      case 'epsilon':
        predOriginal = sample.map((x, k) => f32(x - f32(sqrtBeta * modelOutput[k])) / sqrtAlpha);
        predEpsilon = modelOutput;
        break;
      case 'sample':
        predOriginal = modelOutput;
        predEpsilon = sample.map((x, k) => f32(x - f32(sqrtAlpha * modelOutput[k])) / sqrtBeta);
        break;
      default:
        predOriginal = sample.map((x, k) => f32(sqrtAlpha * x) - f32(sqrtBeta * modelOutput[k]));
        predEpsilon = sample.map((x, k) => f32(sqrtAlpha * modelOutput[k]) + f32(sqrtBeta * x));
    }
    if (this.config.clip_sample) {
      const range = f32(this.config.clip_sample_range);
      predOriginal = predOriginal.map((v) => Math.min(range, Math.max(-range, v)));
    }
    // With eta = 0, std_dev_t is 0 and the direction coefficient is sqrt(1 - alphā_prev).
    const directionCoeff = sqrt32(f32(1 - alphaProdPrev));
    const sqrtAlphaPrev = sqrt32(alphaProdPrev);
    return predOriginal.map((x0, k) => f32(sqrtAlphaPrev * x0) + f32(directionCoeff * predEpsilon[k]));
  }

  reset(): void {
    // DDIM with eta = 0 keeps no state between steps.
  }
}

function ddimTimesteps(config: DdimConfig, n: number): number[] {
  const trainSteps = config.num_train_timesteps;
  const spacing = requireOneOf(
    config.timestep_spacing,
    ['linspace', 'leading', 'trailing'],
    'timestep_spacing',
    CLASS_NAME,
  );
  if (spacing === 'linspace')
    return numpyLinspace(0, trainSteps - 1, n)
      .map(roundHalfEven)
      .reverse();
  if (spacing === 'leading') {
    const ratio = Math.floor(trainSteps / n);
    return Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + config.steps_offset);
  }
  return numpyArange(trainSteps, 0, -trainSteps / n).map((t) => roundHalfEven(t) - 1);
}
