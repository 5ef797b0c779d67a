import { UserError } from '../errors.ts';
import { alphasCumprodFrom, betasFor } from './betaSchedule.ts';
import { eulerSchedule, predictOriginalSample, scaleBySigma, sigmaInputDivisor } from './eulerDiscrete.ts';
import { sqrt32 } from './float32Math.ts';
import { expectSameLength, expectStepIndex, type NoiseSource, type Scheduler } from './scheduler.ts';
import { type RawSchedulerConfig, requireOneOf, resolveConfig } from './schedulerConfig.ts';

/**
 * diffusers 0.21.4 `EulerAncestralDiscreteScheduler`: an Euler step down to sigma_down, then fresh
 * noise times sigma_up. Each step draws one `randn(shape)` after the deterministic part, like
 * `randn_tensor(model_output.shape, generator=generator)` in diffusers; nothing else draws noise.
 * 0.21.4 has no Karras or log-linear option for this class.
 */

const f32 = Math.fround;
const CLASS_NAME = 'EulerAncestralDiscreteScheduler';

export const EULER_ANCESTRAL_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as readonly number[] | null,
  prediction_type: 'epsilon',
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

export type EulerAncestralConfig = typeof EULER_ANCESTRAL_DEFAULTS;

export class EulerAncestralScheduler implements Scheduler {
  readonly kind = 'euler-a';
  readonly className = CLASS_NAME;
  readonly config: EulerAncestralConfig;
  readonly timesteps: readonly number[];
  readonly sigmas: Float32Array;
  readonly initNoiseSigma: number;
  private readonly randn: NoiseSource;
  private readonly noiseShape: readonly number[] | undefined;

  /**
   * @param randn draws the step noise (a PyTorch-compatible generator reproduces diffusers).
   * @param noiseShape the latent's shape as passed to `randn`; defaults to `[sample.length]`.
   */
  constructor(
    raw: RawSchedulerConfig,
    numInferenceSteps: number,
    randn: NoiseSource,
    noiseShape?: readonly number[],
  ) {
    const config = resolveConfig(raw, EULER_ANCESTRAL_DEFAULTS, CLASS_NAME);
    const prediction = requireOneOf(
      config.prediction_type,
      ['epsilon', 'sample', 'v_prediction'],
      'prediction_type',
      CLASS_NAME,
    );
    if (prediction === 'sample') {
      throw new UserError(
        `${CLASS_NAME}: prediction_type "sample" is not implemented in diffusers 0.21.4 either`,
      );
    }
    this.config = config;
    const alphasCumprod = alphasCumprodFrom(betasFor(config, CLASS_NAME));
    const schedule = eulerSchedule(
      { ...config, interpolation_type: 'linear', use_karras_sigmas: false },
      numInferenceSteps,
      CLASS_NAME,
      alphasCumprod,
    );
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.initNoiseSigma = schedule.initNoiseSigma;
    this.randn = randn;
    this.noiseShape = noiseShape;
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
    const sigma = this.sigmas[stepIndex];
    const sigmaTo = this.sigmas[stepIndex + 1];
    const predOriginal = predictOriginalSample(this.config.prediction_type, modelOutput, sample, sigma);
    const sigmaFromSquared = f32(sigma * sigma);
    const sigmaToSquared = f32(sigmaTo * sigmaTo);
    const sigmaUp = sqrt32(
      f32(f32(sigmaToSquared * f32(sigmaFromSquared - sigmaToSquared)) / sigmaFromSquared),
    );
    const sigmaDown = sqrt32(f32(sigmaToSquared - f32(sigmaUp * sigmaUp)));
    const dt = f32(sigmaDown - sigma);
    const prevSample = sample.map((x, k) => {
      const derivative = f32(f32(x - predOriginal[k]) / sigma);
      return x + f32(derivative * dt);
    });
    const noise = this.randn(this.noiseShape ?? [sample.length]);
    if (noise.length !== sample.length) {
      throw new Error(
        `${CLASS_NAME}: randn returned ${noise.length} values for a sample of ${sample.length}`,
      );
    }
    return prevSample.map((x, k) => x + f32(noise[k] * sigmaUp));
  }

  reset(): void {
    // The only state is the caller's generator, which the caller reseeds for a new image.
  }
}
