import type { GuidanceGraphSpec, GuidanceTokens } from '../src/guidance/guidanceGraph.ts';

/** The prompt every measurement uses: two objects, each with an attribute, so tv_bind has something to bind. */
export const PROMPT = 'a purple dog and a green crown';
/** Official 1-based token positions in PROMPT: purple 2, dog 3, green 6, crown 7. */
export const TOKENS: GuidanceTokens = { objects: [3, 7], attributes: [2, 6] };
/** A mid-schedule timestep (the cost does not depend on it). */
export const TIMESTEP = 981;

export type GsnVariant = 'ae' | 'tv' | 'tv_bind';
export const GSN_VARIANTS: readonly GsnVariant[] = ['ae', 'tv', 'tv_bind'];

/**
 * The guidance graph of each variant at a latent size. The attention maps are latent side / 4 (16 at 512 px,
 * the official setting; 8 at 256 px), so both sizes guide the same layers.
 */
export function gsnSpec(variant: GsnVariant, latent: number): GuidanceGraphSpec {
  return {
    method: variant === 'ae' ? 'attend-excite' : 'divide-bind',
    tv: 'official',
    objects: TOKENS.objects.length,
    finerLayers: variant === 'tv_bind',
    attentionRes: latent / 4,
    height: latent,
    width: latent,
    keys: 77,
    scaledInput: false,
  };
}
