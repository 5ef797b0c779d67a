/**
 * ε = ε_u + s·(ε_c − ε_u) in float32, as diffusers computes it on the two halves of a batch-2 UNet output
 * ([uncond, cond]).
 */
export function classifierFreeGuidance(noise: Float32Array, scale: number): Float32Array {
  const f = Math.fround;
  const half = noise.length / 2;
  const s = f(scale);
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const u = noise[i];
    out[i] = f(u + f(s * f(noise[half + i] - u)));
  }
  return out;
}

/**
 * diffusers' `rescale_noise_cfg` (Lin et al. 2023, §3.4): ε ← φ·ε·std(ε_c)/std(ε) + (1 − φ)·ε, std = the
 * unbiased standard deviation over all values of the (batch-1) sample, accumulated in float64 as PyTorch's CPU
 * kernel does, then float32. φ = 0 returns `guided` itself.
 */
export function rescaleGuidance(guided: Float32Array, noise: Float32Array, rescale: number): Float32Array {
  if (rescale === 0) return guided;
  const f = Math.fround;
  const conditional = noise.subarray(noise.length / 2);
  const ratio = f(standardDeviation(conditional) / standardDeviation(guided));
  const [keep, mix] = [f(rescale), f(1 - rescale)];
  return guided.map((value) => f(f(keep * f(value * ratio)) + f(mix * value)));
}

function standardDeviation(values: Float32Array): number {
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return Math.fround(Math.sqrt(squares / (values.length - 1)));
}
