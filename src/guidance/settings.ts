import { UserError } from '../errors.ts';
import { type GuidanceMethod, guidanceMethod } from './methods/index.ts';
import type { TvVariant } from './totalVariation.ts';

export type { GuidanceMethod } from './methods/index.ts';

/** How GSN runs: the official parameters of A&E and D&B are the defaults (ALGORITHM.md §5). */
export interface GsnSettings {
  readonly method: GuidanceMethod;
  /** Latent updates happen at loop indices below this (PNDM's duplicated step counts as one). */
  readonly maxIterToAlter: number;
  readonly scaleFactor: number;
  /** α_i = scaleFactor·√(linspace(range[0], range[1], number of loop iterations)[i]). */
  readonly scaleRange: readonly [number, number];
  /** Loop index → threshold on the indicator (A&E: min max-attention via the loss; D&B: min TV). */
  readonly thresholds: ReadonlyMap<number, number>;
  /** Refinement iteration caps at loop index 0 and at later loop indices. */
  readonly refinementCaps: readonly [number, number];
  /** D&B's total variation: the released code's (with its broadcast row) or the intended one. */
  readonly tv: TvVariant;
  /** Side of the object attention maps: the official 16, or for sizes without 16×16 maps the side nearest latent/4. */
  readonly attentionRes?: number;
}

/** The method's official settings (its file in ./methods/ holds them). */
export function defaultSettings(method: GuidanceMethod): GsnSettings {
  return { method, ...guidanceMethod(method).defaults };
}

/** Step sizes per loop index, computed like numpy's linspace and sqrt in float64. */
export function stepSizes(settings: GsnSettings, loopIterations: number): number[] {
  const [start, stop] = settings.scaleRange;
  const step = loopIterations > 1 ? (stop - start) / (loopIterations - 1) : 0;
  return Array.from({ length: loopIterations }, (_, i) => {
    const r = i === loopIterations - 1 && loopIterations > 1 ? stop : start + i * step;
    return settings.scaleFactor * Math.sqrt(r);
  });
}

/** Parses `0:0.05,10:0.2,20:0.3`. */
export function parseThresholds(text: string): Map<number, number> {
  const thresholds = new Map<number, number>();
  for (const part of text.split(',').filter((p) => p.trim())) {
    const [index, value] = part.split(':').map((s) => s.trim());
    const i = Number(index);
    const v = Number(value);
    if (!Number.isInteger(i) || i < 0 || value === undefined || !Number.isFinite(v)) {
      throw new UserError(`bad threshold "${part}": write LOOP_INDEX:VALUE pairs, e.g. 0:0.05,10:0.2,20:0.3`);
    }
    thresholds.set(i, v);
  }
  return thresholds;
}
