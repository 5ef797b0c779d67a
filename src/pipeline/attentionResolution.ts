import type { UNetConfig } from '../models/unet/index.ts';

/**
 * The official 16 (the side of SD 1.x's coarsest cross-attention maps at 512 px) where the UNet has
 * cross-attention at that side; otherwise the side nearest to latent/4, as diffusers' A&E pipeline chooses
 * (ceil(width / 32) pixels), e.g. 24 for SD 2.x at 768 px.
 */
export function defaultAttentionRes(
  config: Pick<UNetConfig, 'downBlockTypes'>,
  latentHeight: number,
): number {
  const sides = config.downBlockTypes.flatMap((type, i) =>
    type === 'CrossAttnDownBlock2D' ? [Math.ceil(latentHeight / 2 ** i)] : [],
  );
  if (sides.length === 0 || sides.includes(16)) return 16;
  const target = latentHeight / 4;
  return sides.reduce((best, side) => (Math.abs(side - target) < Math.abs(best - target) ? side : best));
}
