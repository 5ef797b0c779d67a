import { UserError } from '../errors.ts';
import { alphasCumprodFrom, betasFor } from './betaSchedule.ts';
import { exp32, log32 } from './float32Math.ts';
import { numpyArange, numpyLinspace, roundHalfEven, uniqueInOrder } from './numpyArrays.ts';
import { expectSameLength, expectStepIndex, expectStepInOrder, type Scheduler } from './scheduler.ts';
import { type RawSchedulerConfig, requireOneOf, resolveConfig } from './schedulerConfig.ts';
import { karrasSigmas, logSigmas, sigmaToTimestep, trainingSigmas } from './sigmaSchedule.ts';

/**
 * diffusers 0.21.4 `DPMSolverMultistepScheduler`, ODE variants (`dpmsolver++`, `dpmsolver`), orders
 * 1-3, midpoint or heun. In 0.21.4 the solver works on integer timesteps: alpha_t, sigma_t and
 * lambda_t are float32 tables indexed by timestep (Karras sigmas are turned back into rounded
 * timesteps), and the final step goes to timestep 0 (there is no `final_sigmas_type` yet).
 */

const f32 = Math.fround;
const CLASS_NAME = 'DPMSolverMultistepScheduler';

export const DPM_SOLVER_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as readonly number[] | null,
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  dynamic_thresholding_ratio: 0.995,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: true,
  use_karras_sigmas: false,
  lambda_min_clipped: Number.NEGATIVE_INFINITY,
  variance_type: null as string | null,
  timestep_spacing: 'linspace',
  steps_offset: 0,
};

export type DpmSolverConfig = typeof DPM_SOLVER_DEFAULTS;

/** Below this many steps `lower_order_final` makes the last steps lower order. */
const LOWER_ORDER_FINAL_BELOW = 15;

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly kind = 'dpm++';
  readonly className = CLASS_NAME;
  readonly config: DpmSolverConfig;
  readonly timesteps: readonly number[];
  readonly sigmas = null;
  readonly initNoiseSigma = 1;
  /** sqrt(alphā_t), sqrt(1 - alphā_t) and their log ratio, float32 per training timestep. */
  readonly alphaT: Float32Array;
  readonly sigmaT: Float32Array;
  readonly lambdaT: Float32Array;
  private modelOutputs: Float32Array[] = [];
  private lowerOrderNums = 0;
  private nextStep = 0;

  constructor(raw: RawSchedulerConfig, numInferenceSteps: number) {
    const config = resolveConfig(raw, DPM_SOLVER_DEFAULTS, CLASS_NAME);
    // from_config's renames of other solvers' settings, as in diffusers' __init__.
    if (config.algorithm_type === 'deis') config.algorithm_type = 'dpmsolver++';
    if (['logrho', 'bh1', 'bh2'].includes(config.solver_type)) config.solver_type = 'midpoint';
    requireOneOf(config.algorithm_type, ['dpmsolver++', 'dpmsolver'], 'algorithm_type', CLASS_NAME);
    requireOneOf(config.solver_type, ['midpoint', 'heun'], 'solver_type', CLASS_NAME);
    requireOneOf(
      config.prediction_type,
      ['epsilon', 'sample', 'v_prediction'],
      'prediction_type',
      CLASS_NAME,
    );
    if (![1, 2, 3].includes(config.solver_order)) {
      throw new UserError(`${CLASS_NAME}: solver_order must be 1, 2 or 3, got ${config.solver_order}`);
    }
    if (config.thresholding) {
      throw new UserError(
        `${CLASS_NAME}: thresholding (dynamic thresholding) is not supported; set it to false`,
      );
    }
    if (config.variance_type !== null) {
      throw new UserError(
        `${CLASS_NAME}: variance_type "${config.variance_type}" (learned variance) is not supported`,
      );
    }
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) {
      throw new UserError(`${CLASS_NAME}: need at least one inference step`);
    }
    this.config = config;
    const alphasCumprod = alphasCumprodFrom(betasFor(config, CLASS_NAME));
    this.alphaT = alphasCumprod.map((a) => Math.sqrt(a));
    this.sigmaT = alphasCumprod.map((a) => Math.sqrt(f32(1 - a)));
    this.lambdaT = this.alphaT.map((a, t) => f32(log32(a) - log32(this.sigmaT[t])));
    this.timesteps = this.layoutTimesteps(alphasCumprod, numInferenceSteps);
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
    const count = this.timesteps.length;
    expectStepIndex(CLASS_NAME, stepIndex, count);
    expectStepInOrder(CLASS_NAME, stepIndex, this.nextStep);
    expectSameLength(CLASS_NAME, modelOutput, sample);
    const order = this.config.solver_order;
    const timestep = this.timesteps[stepIndex];
    const prevTimestep = stepIndex === count - 1 ? 0 : this.timesteps[stepIndex + 1];
    const shortRun = this.config.lower_order_final && count < LOWER_ORDER_FINAL_BELOW;
    const lowerOrderFinal = stepIndex === count - 1 && shortRun;
    const lowerOrderSecond = stepIndex === count - 2 && shortRun;

    const converted = this.convertModelOutput(modelOutput, timestep, sample);
    this.modelOutputs.push(converted);
    if (this.modelOutputs.length > order) this.modelOutputs.shift();

    let prevSample: Float32Array;
    if (order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      prevSample = this.firstOrderUpdate(converted, timestep, prevTimestep, sample);
    } else if (order === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) {
      prevSample = this.secondOrderUpdate([this.timesteps[stepIndex - 1], timestep], prevTimestep, sample);
    } else {
      const history = [this.timesteps[stepIndex - 2], this.timesteps[stepIndex - 1], timestep];
      prevSample = this.thirdOrderUpdate(history, prevTimestep, sample);
    }
    if (this.lowerOrderNums < order) this.lowerOrderNums++;
    this.nextStep++;
    return prevSample;
  }

  reset(): void {
    this.modelOutputs = [];
    this.lowerOrderNums = 0;
    this.nextStep = 0;
  }

  /** `set_timesteps`: integer timesteps, clipped by `lambda_min_clipped`, optionally Karras-spaced. */
  private layoutTimesteps(alphasCumprod: Float32Array, n: number): number[] {
    const config = this.config;
    const trainSteps = config.num_train_timesteps;
    // searchsorted(flip(lambda_t), lambda_min_clipped): how many lambdas lie below the clip.
    const clipped = this.lambdaT.reduce(
      (count, lambda) => (lambda < config.lambda_min_clipped ? count + 1 : count),
      0,
    );
    const lastTimestep = trainSteps - clipped;
    const spacing = requireOneOf(
      config.timestep_spacing,
      ['linspace', 'leading', 'trailing'],
      'timestep_spacing',
      CLASS_NAME,
    );
    let timesteps: number[];
    if (spacing === 'linspace') {
      timesteps = numpyLinspace(0, lastTimestep - 1, n + 1)
        .map(roundHalfEven)
        .reverse()
        .slice(0, -1);
    } else if (spacing === 'leading') {
      const ratio = Math.floor(lastTimestep / (n + 1));
      timesteps = Array.from({ length: n }, (_, i) => (n - i) * ratio + config.steps_offset);
    } else {
      timesteps = numpyArange(lastTimestep, 0, -trainSteps / n).map((t) => roundHalfEven(t) - 1);
    }
    if (config.use_karras_sigmas) {
      const table = trainingSigmas(alphasCumprod);
      const logTable = logSigmas(table);
      // The table ascends with t, so these Karras sigmas ascend too; the flip makes timesteps descend.
      timesteps = karrasSigmas(table, n)
        .map((sigma) => roundHalfEven(sigmaToTimestep(sigma, logTable)))
        .reverse();
    }
    return uniqueInOrder(timesteps);
  }

  /** DPM-Solver++ solves for the data prediction x0, DPM-Solver for the noise prediction. */
  private convertModelOutput(
    modelOutput: Float32Array,
    timestep: number,
    sample: Float32Array,
  ): Float32Array {
    const alpha = this.alphaT[timestep];
    const sigma = this.sigmaT[timestep];
    const prediction = this.config.prediction_type;
    if (this.config.algorithm_type === 'dpmsolver++') {
      if (prediction === 'epsilon') return sample.map((x, k) => f32(x - f32(sigma * modelOutput[k])) / alpha);
      if (prediction === 'sample') return modelOutput.slice();
      return sample.map((x, k) => f32(alpha * x) - f32(sigma * modelOutput[k]));
    }
    if (prediction === 'epsilon') return modelOutput.slice();
    if (prediction === 'sample') return sample.map((x, k) => f32(x - f32(alpha * modelOutput[k])) / sigma);
    return sample.map((x, k) => f32(alpha * modelOutput[k]) + f32(sigma * x));
  }

  /** DPM-Solver-1 (DDIM) from `timestep` to `prevTimestep`. */
  private firstOrderUpdate(
    modelOutput: Float32Array,
    timestep: number,
    prevTimestep: number,
    sample: Float32Array,
  ): Float32Array {
    const h = f32(this.lambdaT[prevTimestep] - this.lambdaT[timestep]);
    const alphaTo = this.alphaT[prevTimestep];
    const sigmaTo = this.sigmaT[prevTimestep];
    if (this.config.algorithm_type === 'dpmsolver++') {
      const sampleCoeff = f32(sigmaTo / this.sigmaT[timestep]);
      const outputCoeff = f32(alphaTo * f32(exp32(-h) - 1));
      return sample.map((x, k) => f32(sampleCoeff * x) - f32(outputCoeff * modelOutput[k]));
    }
    const sampleCoeff = f32(alphaTo / this.alphaT[timestep]);
    const outputCoeff = f32(sigmaTo * f32(exp32(h) - 1));
    return sample.map((x, k) => f32(sampleCoeff * x) - f32(outputCoeff * modelOutput[k]));
  }

  /** Multistep DPM-Solver-2 using the last two converted outputs. */
  private secondOrderUpdate(
    history: readonly number[],
    prevTimestep: number,
    sample: Float32Array,
  ): Float32Array {
    const [s1, s0] = history;
    const outputs = this.modelOutputs;
    const m0 = outputs[outputs.length - 1];
    const m1 = outputs[outputs.length - 2];
    const lambdaTo = this.lambdaT[prevTimestep];
    const lambdaS0 = this.lambdaT[s0];
    const h = f32(lambdaTo - lambdaS0);
    const h0 = f32(lambdaS0 - this.lambdaT[s1]);
    const r0 = f32(h0 / h);
    const inverseR0 = f32(1 / r0);
    const d1 = m0.map((a, k) => inverseR0 * f32(a - m1[k]));
    const alphaTo = this.alphaT[prevTimestep];
    const sigmaTo = this.sigmaT[prevTimestep];
    const plusPlus = this.config.algorithm_type === 'dpmsolver++';
    const midpoint = this.config.solver_type === 'midpoint';

    const sampleCoeff = plusPlus ? f32(sigmaTo / this.sigmaT[s0]) : f32(alphaTo / this.alphaT[s0]);
    // dpmsolver++: alpha_t (e^-h - 1); dpmsolver: sigma_t (e^h - 1). Both are subtracted.
    const expTerm = plusPlus ? f32(exp32(-h) - 1) : f32(exp32(h) - 1);
    const d0Coeff = f32((plusPlus ? alphaTo : sigmaTo) * expTerm);
    let d1Coeff: number;
    let d1Sign: 1 | -1;
    if (midpoint) {
      d1Coeff = f32(0.5 * d0Coeff);
      d1Sign = -1;
    } else if (plusPlus) {
      d1Coeff = f32(alphaTo * f32(f32(expTerm / h) + 1));
      d1Sign = 1;
    } else {
      d1Coeff = f32(sigmaTo * f32(f32(expTerm / h) - 1));
      d1Sign = -1;
    }
    return sample.map((x, k) => {
      const first = f32(f32(sampleCoeff * x) - f32(d0Coeff * m0[k]));
      const correction = f32(d1Coeff * d1[k]);
      return d1Sign === 1 ? first + correction : first - correction;
    });
  }

  /** Multistep DPM-Solver-3 using the last three converted outputs. */
  private thirdOrderUpdate(
    history: readonly number[],
    prevTimestep: number,
    sample: Float32Array,
  ): Float32Array {
    const [s2, s1, s0] = history;
    const outputs = this.modelOutputs;
    const m0 = outputs[outputs.length - 1];
    const m1 = outputs[outputs.length - 2];
    const m2 = outputs[outputs.length - 3];
    const lambdaTo = this.lambdaT[prevTimestep];
    const lambdaS0 = this.lambdaT[s0];
    const lambdaS1 = this.lambdaT[s1];
    const h = f32(lambdaTo - lambdaS0);
    const h0 = f32(lambdaS0 - lambdaS1);
    const h1 = f32(lambdaS1 - this.lambdaT[s2]);
    const r0 = f32(h0 / h);
    const r1 = f32(h1 / h);
    const inverseR0 = f32(1 / r0);
    const inverseR1 = f32(1 / r1);
    const rSum = f32(r0 + r1);
    const d1Weight = f32(r0 / rSum);
    const d2Weight = f32(1 / rSum);
    const d10 = m0.map((a, k) => inverseR0 * f32(a - m1[k]));
    const d11 = m1.map((a, k) => inverseR1 * f32(a - m2[k]));
    const d1 = d10.map((a, k) => a + f32(d1Weight * f32(a - d11[k])));
    const d2 = d10.map((a, k) => d2Weight * f32(a - d11[k]));
    const alphaTo = this.alphaT[prevTimestep];
    const sigmaTo = this.sigmaT[prevTimestep];
    const hSquared = f32(h * h);

    if (this.config.algorithm_type === 'dpmsolver++') {
      const expTerm = f32(exp32(-h) - 1);
      const sampleCoeff = f32(sigmaTo / this.sigmaT[s0]);
      const d0Coeff = f32(alphaTo * expTerm);
      const d1Coeff = f32(alphaTo * f32(f32(expTerm / h) + 1));
      const d2Coeff = f32(alphaTo * f32(f32(f32(expTerm + h) / hSquared) - 0.5));
      return sample.map((x, k) => {
        const a = f32(f32(sampleCoeff * x) - f32(d0Coeff * m0[k]));
        return f32(a + f32(d1Coeff * d1[k])) - f32(d2Coeff * d2[k]);
      });
    }
    const expTerm = f32(exp32(h) - 1);
    const sampleCoeff = f32(alphaTo / this.alphaT[s0]);
    const d0Coeff = f32(sigmaTo * expTerm);
    const d1Coeff = f32(sigmaTo * f32(f32(expTerm / h) - 1));
    const d2Coeff = f32(sigmaTo * f32(f32(f32(expTerm - h) / hSquared) - 0.5));
    return sample.map((x, k) => {
      const a = f32(f32(sampleCoeff * x) - f32(d0Coeff * m0[k]));
      return f32(a - f32(d1Coeff * d1[k])) - f32(d2Coeff * d2[k]);
    });
  }
}
