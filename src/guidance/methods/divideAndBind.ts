import type { TypedData } from '../../graph/index.ts';
import { bindingWeight } from '../binding.ts';
import { divideAndBind } from '../objectives.ts';
import type { GuidanceMethodDefinition } from './guidanceMethod.ts';

/**
 * Divide & Bind (Li et al. 2023): raise the worst object map's total variation (attendance) and, for objects
 * with an attribute token, lower the divergence between the object's and the attribute's maps (binding), the
 * attribute maps taken from the finer layers. Refinement goes on while min TV < threshold.
 */
export const divideAndBindMethod = {
  name: 'divide-bind',
  label: 'Divide & Bind',
  shortLabel: 'D&B',
  // The refinement caps are those of the diffusers-0.21.4 pipeline (100 at step 0, 50 after), which differ
  // from the first release's notebooks (50 / 20).
  defaults: {
    maxIterToAlter: 25,
    scaleFactor: 20,
    scaleRange: [1, 0.5],
    thresholds: new Map([
      [0, 0.05],
      [10, 0.2],
      [20, 0.3],
    ]),
    refinementCaps: [100, 50],
    tv: 'official',
  },
  ownSettings: ['tv'],
  ownTokenFields: ['attributes', 'attributeIndices'],
  readsFinerLayers: (tokens) => tokens.attributes.some((position) => position > 0),
  objective: (context, binding) => {
    if (!binding) return divideAndBind(context.objectMaps, context.tv);
    const positions = context.input('attribute_positions', [context.objects], 'int64');
    return divideAndBind(context.objectMaps, context.tv, {
      attributeMaps: context.finerMaps(positions),
      mask: context.input('attribute_mask', [context.objects]),
      weight: context.input('bind_weight', []),
    });
  },
  feeds: (tokens, loopIndex, binding): Record<string, TypedData> =>
    binding
      ? {
          // 0-based columns of the 75-token softmax; an object without attribute points anywhere, masked out.
          attribute_positions: BigInt64Array.from(tokens.attributes, (p) => BigInt(Math.max(p, 1) - 1)),
          attribute_mask: Float32Array.from(tokens.attributes, (p) => (p > 0 ? 1 : 0)),
          bind_weight: Float32Array.of(bindingWeight(loopIndex)),
        }
      : {},
  misses: (evaluation, threshold) => evaluation.indicator < threshold,
} as const satisfies GuidanceMethodDefinition<'divide-bind'>;
