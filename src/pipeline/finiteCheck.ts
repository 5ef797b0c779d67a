import { UserError } from '../errors.ts';

/**
 * Raised when the latents or the decoded image hold NaN or ±Inf. Once one value is not finite every later step
 * spreads it, and the PNG would be black (NaN becomes 0 in 8 bits) with nothing said: stopping names the step.
 */
export class NonFiniteError extends UserError {
  override name = 'NonFiniteError';
}

/** Where a tensor was computed, for the message: "after loop index 3 (timestep 861) of image 2". */
export interface FiniteCheckPlace {
  readonly what: 'latents' | 'decoded image';
  /** 0-based image of the request. */
  readonly image: number;
  readonly loopIndex?: number;
  readonly timestep?: number;
  /** The UNet's compute dtype: float16 makes overflow the likelier cause. */
  readonly dtype: 'float32' | 'float16';
}

/** Throws NonFiniteError when `values` holds NaN or ±Inf. A linear scan: microseconds next to a UNet pass. */
export function assertFinite(values: ArrayLike<number>, place: FiniteCheckPlace): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) continue;
    bad++;
    if (first < 0) first = i;
  }
  if (bad === 0) return;
  const kind = Number.isNaN(values[first]) ? 'NaN' : 'Inf';
  const step =
    place.loopIndex === undefined ? '' : ` after loop index ${place.loopIndex} (timestep ${place.timestep})`;
  const causes =
    place.dtype === 'float16'
      ? 'likely float16 overflow (try --dtype fp32) or corrupt weights (a NaN or Inf in the model files)'
      : 'likely corrupt weights (a NaN or Inf in the model files); with fp16 weights, an overflow';
  throw new NonFiniteError(
    `image ${place.image + 1}: the ${place.what} hold ${bad} non-finite value(s) (first: ${kind})${step}; ` +
      `stopped, nothing written for this image: ${causes}`,
  );
}
