import { UserError } from '../errors.ts';
import type { TvVariant } from './totalVariation.ts';

export type GuidanceMethod = 'attend-excite' | 'divide-bind';

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

const AE_THRESHOLDS = new Map([
  [0, 0.05],
  [10, 0.5],
  [20, 0.8],
]);
const DNB_THRESHOLDS = new Map([
  [0, 0.05],
  [10, 0.2],
  [20, 0.3],
]);

/**
 * The official defaults. D&B's refinement caps are those of the diffusers-0.21.4 pipeline (100 at step 0, 50
 * after), which differ from the first release's notebooks (50 / 20); A&E's are 20.
 */
export function defaultSettings(method: GuidanceMethod): GsnSettings {
  const ae = method === 'attend-excite';
  return {
    method,
    maxIterToAlter: 25,
    scaleFactor: 20,
    scaleRange: [1, 0.5],
    thresholds: ae ? AE_THRESHOLDS : DNB_THRESHOLDS,
    refinementCaps: ae ? [20, 20] : [100, 50],
    tv: 'official',
  };
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
