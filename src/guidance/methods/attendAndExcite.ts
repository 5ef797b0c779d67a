import { attendExcite } from '../objectives.ts';
import type { GuidanceMethodDefinition } from './guidanceMethod.ts';

/**
 * Attend & Excite (Chefer et al. 2023), the baseline the paper beats: raise the weakest object token's peak
 * attention. Refinement goes on while loss > 1 − threshold, as the official code tests it.
 */
export const attendAndExciteMethod = {
  name: 'attend-excite',
  label: 'Attend & Excite',
  shortLabel: 'A&E',
  defaults: {
    maxIterToAlter: 25,
    scaleFactor: 20,
    scaleRange: [1, 0.5],
    thresholds: new Map([
      [0, 0.05],
      [10, 0.5],
      [20, 0.8],
    ]),
    refinementCaps: [20, 20],
    tv: 'official',
  },
  ownSettings: [],
  ownTokenFields: [],
  readsFinerLayers: () => false,
  objective: ({ objectMaps }) => attendExcite(objectMaps),
  feeds: () => ({}),
  misses: (evaluation, threshold) => evaluation.loss > 1 - threshold,
} as const satisfies GuidanceMethodDefinition<'attend-excite'>;
