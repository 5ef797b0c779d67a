import type { GsnSettings } from '../../src/guidance/settings.ts';
import type { GenerationRequest } from '../../src/pipeline/request.ts';
import { golden } from './fixtures.ts';

/**
 * The GSN settings of the fixtures' stable full runs (fixtures README): scale factor 3, updates at loop indices
 * 0..9, refinement at 0 and 10 against `threshold` (A&E 0.9, D&B 0.5) capped at 3 iterations.
 */
export function stableGsn(threshold: number): Partial<GsnSettings> {
  return {
    scaleFactor: 3,
    maxIterToAlter: 10,
    thresholds: new Map([
      [0, threshold],
      [10, threshold],
    ]),
    refinementCaps: [3, 3],
  };
}

/** The stable D&B tv_bind run of the purple dog (20 steps from its stored latent), and its golden result. */
export async function stablePurpleDog(): Promise<{ request: GenerationRequest; expected: Float32Array }> {
  const file = 'purple_dog_green_crown_phases';
  return {
    request: {
      prompt: 'a purple dog and a green crown',
      method: 'divide-bind',
      latents: await golden(file, 'stable/init_latent'),
      steps: 20,
      tokens: { tokenIndices: [3, 7], attributeIndices: [2, 6] },
      gsn: stableGsn(0.5),
    },
    expected: await golden(file, 'stable/dnb_tv_bind/final_latents'),
  };
}
