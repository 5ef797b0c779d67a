import { numpyLinspace } from './numpyArrays.ts';

/**
 * The k-diffusion view of the schedule used by the Euler schedulers and DPM-Solver's Karras option:
 * sigma(t) = sqrt((1 - alphā_t) / alphā_t), Karras et al.'s rho-spaced sigmas, and the inverse map
 * from a sigma back to a (fractional) training timestep.
 */

const f32 = Math.fround;

/** `((1 - alphas_cumprod) / alphas_cumprod) ** 0.5` as a float32 tensor, indexed by training timestep. */
export function trainingSigmas(alphasCumprod: Float32Array): Float32Array {
  return alphasCumprod.map((a) => Math.sqrt(f32(f32(1 - a) / a)));
}

/**
 * diffusers' `_convert_to_karras` in float64: rho = 7 between `inSigmas[last]` ("sigma_min") and
 * `inSigmas[0]` ("sigma_max"); those names only hold when `inSigmas` is descending (DPM-Solver passes
 * the ascending training table, so its Karras sigmas come out ascending).
 */
export function karrasSigmas(inSigmas: ArrayLike<number>, numInferenceSteps: number): number[] {
  const rho = 7;
  const sigmaMin = inSigmas[inSigmas.length - 1];
  const sigmaMax = inSigmas[0];
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return numpyLinspace(0, 1, numInferenceSteps).map(
    (ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho,
  );
}

/**
 * `np.log` of the float32 training sigmas (a float32 array). numpy's SIMD logf is ≤ 1 ulp off the
 * correctly rounded log used here (for ~19 % of SD's table on an AVX512 CPU); through `_sigma_to_t`
 * that moves fractional Karras timesteps by up to ~1e-5, a float32 ulp of the timestep.
 */
export function logSigmas(sigmas: Float32Array): Float32Array {
  return sigmas.map((s) => Math.log(s));
}

/**
 * diffusers' `_sigma_to_t`: linear interpolation of log sigma between the two training timesteps
 * that bracket it. numpy 1.24's value-based casting keeps that arithmetic in float32 (the float64
 * log sigma is cast down) until the final blend with the integer indices, which is float64.
 */
export function sigmaToTimestep(sigma: number, logSigmaTable: Float32Array): number {
  const logSigma = f32(Math.log(sigma));
  const n = logSigmaTable.length;
  // Last index whose log sigma is <= ours (0 when there is none), kept below the last pair; numpy
  // computes the differences in float32, where a - b >= 0 exactly when a >= b.
  let low = 0;
  for (let i = 0; i < n; i++) if (logSigma >= logSigmaTable[i]) low = i;
  low = Math.min(low, n - 2);
  const high = low + 1;
  const lowValue = logSigmaTable[low];
  const highValue = logSigmaTable[high];
  const w = Math.min(1, Math.max(0, f32(f32(lowValue - logSigma) / f32(lowValue - highValue))));
  return f32(1 - w) * low + w * high;
}
