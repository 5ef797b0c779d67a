/** [unconditional; conditional] as one batch-2 tensor, the order diffusers' classifier-free guidance uses. */
export function stackRows(unconditional: Float32Array, conditional: Float32Array): Float32Array {
  const both = new Float32Array(unconditional.length + conditional.length);
  both.set(unconditional, 0);
  both.set(conditional, unconditional.length);
  return both;
}
