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
