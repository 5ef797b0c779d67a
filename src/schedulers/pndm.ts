import { UserError } from '../errors.ts';
import { alphasCumprodFrom, betasFor } from './betaSchedule.ts';
import { sqrt32 } from './float32Math.ts';
import { numpyArange, numpyLinspace, roundHalfEven } from './numpyArrays.ts';
import { expectSameLength, expectStepIndex, expectStepInOrder, type Scheduler } from './scheduler.ts';
import { type RawSchedulerConfig, requireOneOf, resolveConfig } from './schedulerConfig.ts';

/**
 * diffusers 0.21.4 `PNDMScheduler`: Runge-Kutta warm-up (PRK) then the 4th-order linear multistep
 * method (PLMS); with `skip_prk_steps` (Stable Diffusion) crowsonkb's PLMS start, which repeats the
 * second-to-last timestep, so 50 steps make 51 loop iterations.
 *
 * Float32: every elementwise op rounds to float32 in the order of the Python expressions, the
 * coefficients are float32 0-dim tensor ops, and Python float constants (1/6, 1/24) become float32.
 */

const f32 = Math.fround;
const CLASS_NAME = 'PNDMScheduler';

export const PNDM_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as readonly number[] | null,
  skip_prk_steps: false,
  set_alpha_to_one: false,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 0,
};

export type PndmConfig = typeof PNDM_DEFAULTS;

/** Order of the PRK/PLMS method (`pndm_order`). */
const PNDM_ORDER = 4;

export class PndmScheduler implements Scheduler {
  readonly kind = 'pndm';
  readonly className = CLASS_NAME;
  readonly config: PndmConfig;
  readonly timesteps: readonly number[];
  readonly sigmas = null;
  readonly initNoiseSigma = 1;
  /** The PRK part of `timesteps` (empty with `skip_prk_steps`). */
  readonly prkTimesteps: readonly number[];
  readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly numInferenceSteps: number;
  private counter = 0;
  private ets: Float32Array[] = [];
  private curSample: Float32Array | null = null;
  private curModelOutput: Float32Array | null = null;

  constructor(raw: RawSchedulerConfig, numInferenceSteps: number) {
    const config = resolveConfig(raw, PNDM_DEFAULTS, CLASS_NAME);
    requireOneOf(config.prediction_type, ['epsilon', 'v_prediction'], 'prediction_type', CLASS_NAME);
    this.config = config;
    this.numInferenceSteps = numInferenceSteps;
    this.alphasCumprod = alphasCumprodFrom(betasFor(config, CLASS_NAME));
    this.finalAlphaCumprod = config.set_alpha_to_one ? 1 : this.alphasCumprod[0];

    const base = baseTimesteps(config, numInferenceSteps);
    if (config.skip_prk_steps) {
      this.prkTimesteps = [];
      // All but the last, the second-to-last again, then the last; reversed.
      this.timesteps = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    } else {
      if (numInferenceSteps < PNDM_ORDER) {
        throw new UserError(`${CLASS_NAME} with PRK steps needs at least ${PNDM_ORDER} inference steps`);
      }
      const half = Math.floor(Math.floor(config.num_train_timesteps / numInferenceSteps) / 2);
      // The last 4 base timesteps, each followed by its midpoint; all but the last repeated, trimmed.
      const withMidpoints = base.slice(-PNDM_ORDER).flatMap((t) => [t, t + half]);
      const doubled = withMidpoints.slice(0, -1).flatMap((t) => [t, t]);
      this.prkTimesteps = doubled.slice(1, -1).reverse();
      this.timesteps = [...this.prkTimesteps, ...base.slice(0, -3).reverse()];
    }
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
    expectStepInOrder(CLASS_NAME, stepIndex, this.counter);
    expectSameLength(CLASS_NAME, modelOutput, sample);
    const timestep = this.timesteps[stepIndex];
    // Copies, so later changes to the caller's buffers can't reach the multistep history.
    const output = modelOutput.slice();
    return this.counter < this.prkTimesteps.length
      ? this.stepPrk(output, timestep, sample.slice())
      : this.stepPlms(output, timestep, sample.slice());
  }

  reset(): void {
    this.counter = 0;
    this.ets = [];
    this.curSample = null;
    this.curModelOutput = null;
  }

  /** One Runge-Kutta stage; four calls make one step of size T/n. */
  private stepPrk(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array {
    const stage = this.counter % 4;
    const halfStep = Math.floor(Math.floor(this.config.num_train_timesteps / this.numInferenceSteps) / 2);
    const prevTimestep = timestep - (this.counter % 2 === 1 ? 0 : halfStep);
    const stepStart = this.prkTimesteps[this.counter - stage];
    let output = modelOutput;
    if (stage === 0) {
      this.curModelOutput = scaled(modelOutput, 1 / 6);
      this.ets.push(modelOutput);
      this.curSample = sample;
    } else if (stage === 1 || stage === 2) {
      this.curModelOutput = added(this.curModelOutput!, scaled(modelOutput, 1 / 3));
    } else {
      output = added(this.curModelOutput!, scaled(modelOutput, 1 / 6));
      this.curModelOutput = null;
    }
    const prevSample = this.prevSample(this.curSample ?? sample, stepStart, prevTimestep, output);
    this.counter++;
    return prevSample;
  }

  /** One linear multistep step from the stored model outputs (`step_plms`). */
  private stepPlms(modelOutput: Float32Array, timestep: number, sample: Float32Array): Float32Array {
    if (!this.config.skip_prk_steps && this.ets.length < 3) {
      throw new Error(`${CLASS_NAME}: PLMS steps need the 12 PRK steps first`);
    }
    const stride = Math.floor(this.config.num_train_timesteps / this.numInferenceSteps);
    let from = timestep;
    let prevTimestep = timestep - stride;
    if (this.counter !== 1) {
      this.ets.push(modelOutput);
    } else {
      // The second call redoes the first step with the averaged slope, from the stored sample.
      prevTimestep = timestep;
      from = timestep + stride;
    }
    const ets = this.ets;
    const e1 = ets[ets.length - 1];
    let output: Float32Array;
    let source = sample;
    if (ets.length === 1 && this.counter === 0) {
      output = modelOutput;
      this.curSample = sample;
    } else if (ets.length === 1 && this.counter === 1) {
      output = modelOutput.map((m, k) => f32(m + e1[k]) / 2);
      source = this.curSample!;
      this.curSample = null;
    } else if (ets.length === 2) {
      const e2 = ets[0];
      output = e1.map((a, k) => f32(f32(3 * a) - e2[k]) / 2);
    } else if (ets.length === 3) {
      const [e3, e2] = ets;
      output = e1.map((a, k) => f32(f32(f32(f32(23 * a) - f32(16 * e2[k])) + f32(5 * e3[k])) / 12));
    } else {
      const [e4, e3, e2] = ets.slice(-4);
      const oneTwentyFourth = f32(1 / 24);
      output = e1.map((a, k) => {
        const sum = f32(f32(f32(f32(55 * a) - f32(59 * e2[k])) + f32(37 * e3[k])) - f32(9 * e4[k]));
        return oneTwentyFourth * sum;
      });
    }
    const prevSample = this.prevSample(source, from, prevTimestep, output);
    this.counter++;
    return prevSample;
  }

  /** Formula (9) of the PNDM paper (`_get_prev_sample`). */
  private prevSample(
    sample: Float32Array,
    timestep: number,
    prevTimestep: number,
    modelOutput: Float32Array,
  ): Float32Array {
    const alphaProd = this.alphaCumprodAt(timestep);
    const alphaProdPrev = prevTimestep >= 0 ? this.alphaCumprodAt(prevTimestep) : this.finalAlphaCumprod;
    const betaProd = f32(1 - alphaProd);
    const betaProdPrev = f32(1 - alphaProdPrev);
    let epsilon = modelOutput;
    if (this.config.prediction_type === 'v_prediction') {
      const a = sqrt32(alphaProd);
      const b = sqrt32(betaProd);
      epsilon = modelOutput.map((v, k) => f32(a * v) + f32(b * sample[k]));
    }
    const sampleCoeff = sqrt32(f32(alphaProdPrev / alphaProd));
    const denominator = f32(
      f32(alphaProd * sqrt32(betaProdPrev)) + sqrt32(f32(f32(alphaProd * betaProd) * alphaProdPrev)),
    );
    const difference = f32(alphaProdPrev - alphaProd);
    return sample.map((x, k) => f32(sampleCoeff * x) - f32(f32(difference * epsilon[k]) / denominator));
  }

  private alphaCumprodAt(timestep: number): number {
    if (timestep < 0 || timestep >= this.alphasCumprod.length) {
      throw new Error(
        `${CLASS_NAME}: timestep ${timestep} is outside the ${this.alphasCumprod.length} training steps`,
      );
    }
    return this.alphasCumprod[timestep];
  }
}

/** `self._timesteps` of `set_timesteps`: ascending integer timesteps before the PRK/PLMS layout. */
function baseTimesteps(config: PndmConfig, n: number): number[] {
  const trainSteps = config.num_train_timesteps;
  const spacing = requireOneOf(
    config.timestep_spacing,
    ['linspace', 'leading', 'trailing'],
    'timestep_spacing',
    CLASS_NAME,
  );
  if (spacing === 'linspace') return numpyLinspace(0, trainSteps - 1, n).map(roundHalfEven);
  if (spacing === 'leading') {
    const ratio = Math.floor(trainSteps / n);
    return Array.from({ length: n }, (_, i) => i * ratio + config.steps_offset);
  }
  return numpyArange(trainSteps, 0, -trainSteps / n)
    .map(roundHalfEven)
    .reverse()
    .map((t) => t - 1);
}

/** `factor * tensor` with a Python float factor (cast to float32). */
function scaled(values: Float32Array, factor: number): Float32Array {
  const f = f32(factor);
  return values.map((v) => f * v);
}

function added(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((v, k) => v + b[k]);
}
