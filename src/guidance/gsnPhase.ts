import { guidanceMethod } from './methods/index.ts';
import type { GsnSettings } from './settings.ts';

/** One loss evaluation at a latent: what the guidance graph returns. */
export interface LossEvaluation {
  readonly loss: number;
  /** A&E: min over tokens of the max attention; D&B: min over tokens of the TV. */
  readonly indicator: number;
  readonly gradient: Float32Array;
  readonly maxAttention: readonly number[];
  readonly totalVariation?: readonly number[];
}

export type LossEvaluator = (latent: Float32Array, loopIndex: number) => Promise<LossEvaluation>;

export interface RefinementReport {
  readonly threshold: number;
  readonly iterations: number;
  readonly cap: number;
  /** Stopped by the cap with the indicator still missing the threshold (the official code only prints this). */
  readonly capHit: boolean;
}

/** What happened at one loop index. */
export interface PhaseReport {
  readonly loopIndex: number;
  readonly stepSize: number;
  /** The loss whose gradient the main update used (after refinement), as the official log prints it. */
  readonly loss: number;
  readonly indicator: number;
  readonly maxAttention: readonly number[];
  readonly totalVariation?: readonly number[];
  /** Every distinct loss evaluation of the phase, in order. */
  readonly losses: readonly number[];
  readonly updates: number;
  readonly refinement?: RefinementReport;
}

/** Whether the indicator still misses the threshold, as the method tests it (ALGORITHM.md §5.3). */
function misses(settings: GsnSettings, evaluation: LossEvaluation, threshold: number): boolean {
  return guidanceMethod(settings.method).misses(evaluation, threshold);
}

/** z ← z − α·∂L/∂z in float32, as PyTorch computes a float32 tensor times a Python float. */
function descend(latent: Float32Array, gradient: Float32Array, stepSize: number): Float32Array {
  const f = Math.fround;
  const a = f(stepSize);
  const out = new Float32Array(latent.length);
  for (let j = 0; j < latent.length; j++) out[j] = f(latent[j] - f(a * gradient[j]));
  return out;
}

/** Whether loop index i needs a loss evaluation at all: an update or a refinement check happens there. */
export function isGuidedStep(settings: GsnSettings, loopIndex: number): boolean {
  return loopIndex < settings.maxIterToAlter || settings.thresholds.has(loopIndex);
}

/**
 * The GSN phase of loop index i, exactly as the official code runs it (ALGORITHM.md §2.4, §5.3): a loss pass;
 * iterative refinement if i has a threshold and the indicator misses it; then one update if i is below
 * maxIterToAlter and the loss is not 0. Refinement's exit test looks at the indicator of the latent BEFORE the
 * last update (the official lag), ends with one more loss pass, and stops silently at the cap.
 *
 * Evaluations the official code repeats on an unchanged latent (the first refinement iteration re-evaluates
 * the latent of the loss pass) are reused: they are deterministic, so the result is the same.
 */
export async function gsnPhase(
  latentIn: Float32Array,
  loopIndex: number,
  stepSize: number,
  settings: GsnSettings,
  evaluate: LossEvaluator,
): Promise<{ latent: Float32Array; report: PhaseReport }> {
  let latent = latentIn;
  let current = await evaluate(latent, loopIndex);
  const losses = [current.loss];
  let updates = 0;
  let refinement: RefinementReport | undefined;

  const threshold = settings.thresholds.get(loopIndex);
  if (threshold !== undefined && misses(settings, current, threshold)) {
    const cap = loopIndex === 0 ? settings.refinementCaps[0] : settings.refinementCaps[1];
    let iterations = 0;
    let lastChecked = current;
    let fresh = false;
    while (misses(settings, lastChecked, threshold)) {
      iterations++;
      if (fresh) {
        current = await evaluate(latent, loopIndex);
        losses.push(current.loss);
      }
      fresh = true;
      if (current.loss !== 0) {
        latent = descend(latent, current.gradient, stepSize);
        updates++;
      }
      lastChecked = current;
      if (iterations >= cap) break;
    }
    refinement = {
      threshold,
      iterations,
      cap,
      capHit: iterations >= cap && misses(settings, lastChecked, threshold),
    };
    if (fresh) {
      current = await evaluate(latent, loopIndex);
      losses.push(current.loss);
    }
  }

  if (loopIndex < settings.maxIterToAlter && current.loss !== 0) {
    latent = descend(latent, current.gradient, stepSize);
    updates++;
  }
  const report: PhaseReport = {
    loopIndex,
    stepSize,
    loss: current.loss,
    indicator: current.indicator,
    maxAttention: current.maxAttention,
    totalVariation: current.totalVariation,
    losses,
    updates,
    refinement,
  };
  return { latent, report };
}
