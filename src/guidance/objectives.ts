import type { Value } from '../graph/index.ts';
import * as G from '../graph/index.ts';
import { bindingDivergence } from './binding.ts';
import { type TvVariant, totalVariation } from './totalVariation.ts';

/** What one loss evaluation yields: the loss, the refinement indicator and per-token diagnostics. */
export interface Objective {
  readonly loss: Value;
  /**
   * What the thresholds are read against, for the trace: A&E min over tokens of the max attention (its refinement
   * itself tests loss > 1 − threshold, the same up to the clamp); D&B min over tokens of the TV.
   */
  readonly indicator: Value;
  /** Max of each smoothed object map [k]. */
  readonly maxAttention: Value;
  /** Total variation of each smoothed object map [k] (D&B only). */
  readonly totalVariation?: Value;
}

/**
 * Attend & Excite: L = max over tokens of max(0, 1 − max pixel of the smoothed map) (ALGORITHM.md §4.1). When
 * every token is satisfied the loss is 0 and the caller skips the update, as the official code does.
 */
export function attendExcite(objectMaps: Value): Objective {
  const maxAttention = G.reduceMax(objectMaps, [1, 2]);
  const loss = G.reduceMax(G.maximum(G.sub(1, maxAttention), 0));
  return { loss, indicator: G.reduceMin(maxAttention), maxAttention };
}

export interface BindingInputs {
  /** Smoothed attribute maps [k, h, w], aligned with the objects. */
  readonly attributeMaps: Value;
  /** 1 where object s has an attribute, else 0 [k]. */
  readonly mask: Value;
  /** λ(i), a scalar graph input so one graph serves every loop index. */
  readonly weight: Value;
}

/**
 * Divide & Bind: v_s = TV_s − λ·JSD_s (the JSD term only for objects with an attribute), L = max_s(−v_s): the
 * worst token's TV is raised and its divergence from its attribute lowered. Indicator: min_s TV_s, without the
 * binding term (ALGORITHM.md §4.3–4.4).
 */
export function divideAndBind(
  objectMaps: Value,
  tv: TvVariant = 'official',
  binding?: BindingInputs,
): Objective {
  const totals = totalVariation(objectMaps, tv);
  let scores = totals;
  if (binding) {
    const jsd = bindingDivergence(objectMaps, binding.attributeMaps, totals);
    scores = G.sub(totals, G.mul(G.mul(binding.weight, binding.mask), jsd));
  }
  return {
    loss: G.reduceMax(G.neg(scores)),
    indicator: G.reduceMin(totals),
    maxAttention: G.reduceMax(objectMaps, [1, 2]),
    totalVariation: totals,
  };
}
