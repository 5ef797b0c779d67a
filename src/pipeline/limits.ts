/**
 * The bounds every entry point (the library, `dnb generate`, the studio) checks a request against, kept in one
 * place so they cannot drift apart.
 */
import { totalmem } from 'node:os';
import { UserError } from '../errors.ts';

export const GENERATION_LIMITS = {
  /**
   * SD's schedulers have 1000 training timesteps, and PNDM with an offset of 1 already fails at 1000 steps
   * (timestep 1000 does not exist); 500 is ten times the default and still a few hours at 512 px on a CPU.
   */
  maxSteps: 500,
  /** Images per request. */
  maxImages: 64,
  /** Pixels per side: SD 1.x/2.x were trained at 512–768; 4096 is far beyond any use and already needs TBs. */
  maxSide: 4096,
} as const;

/** The UNet's attention layout the memory estimate needs. */
export interface AttentionLayout {
  /** Attention heads per down block; a block without attention has none. */
  readonly heads: readonly number[];
  readonly hasAttention: readonly boolean[];
}

const GIB = 1024 ** 3;

/**
 * A lower bound of the memory one UNet pass at latent size h × w needs: the self-attention scores of the
 * batch-2 classifier-free guidance pass, batch · heads · (h·w)² float32 values, at the finest block with
 * attention (block b works at (h / 2^b) × (w / 2^b)). SD 1.5 at 512 px: 2 · 8 · 4096² · 4 B = 1 GiB, beside
 * 3.4 GiB of weights and the 4.2 GiB measured for a whole CFG step (bench/RESULTS.md); the scores grow with the
 * fourth power of the side, so they are what makes a large size impossible.
 */
export function attentionScoreBytes(layout: AttentionLayout, h: number, w: number): number {
  let largest = 0;
  for (let b = 0; b < layout.heads.length; b++) {
    if (!layout.hasAttention[b]) continue;
    const tokens = Math.ceil(h / 2 ** b) * Math.ceil(w / 2 ** b);
    largest = Math.max(largest, 2 * layout.heads[b] * tokens * tokens * 4);
  }
  return largest;
}

/** Refuses a size whose attention scores alone exceed this machine's memory, with the numbers. */
export function checkMemoryFits(
  layout: AttentionLayout,
  size: { height: number; width: number; h: number; w: number },
  available: number = totalmem(),
): void {
  const needed = attentionScoreBytes(layout, size.h, size.w);
  if (needed <= available) return;
  throw new UserError(
    `${size.width}×${size.height} cannot fit: one UNet pass needs at least ${formatGiB(needed)} ` +
      `for its attention scores alone, and this machine has ${formatGiB(available)}; use a smaller size ` +
      '(the scores grow with the fourth power of the side: half the side needs a sixteenth)',
  );
}

function formatGiB(bytes: number): string {
  const gib = bytes / GIB;
  return `${gib >= 1e5 ? gib.toExponential(2) : gib.toFixed(1)} GiB`;
}
