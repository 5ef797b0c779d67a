import { describe, expect, it } from 'vitest';
import { defaultAttentionRes } from '../../src/pipeline/attentionResolution.ts';

const SD = {
  downBlockTypes: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
} as const;

describe('the default attention resolution', () => {
  it('is the official 16 where the UNet has 16×16 cross-attention (SD 1.x at 512 px, the tiny model)', () => {
    expect(defaultAttentionRes({ downBlockTypes: [...SD.downBlockTypes] }, 64)).toBe(16);
    expect(
      defaultAttentionRes(
        { downBlockTypes: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'] },
        32,
      ),
    ).toBe(16);
  });

  it('is the side nearest latent/4 otherwise (SD 2.x at 768 px: 24)', () => {
    expect(defaultAttentionRes({ downBlockTypes: [...SD.downBlockTypes] }, 96)).toBe(24);
    expect(defaultAttentionRes({ downBlockTypes: [...SD.downBlockTypes] }, 80)).toBe(20);
  });
});
