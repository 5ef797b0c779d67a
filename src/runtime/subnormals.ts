/**
 * Whether the calling thread flushes subnormal floats to zero (the x86 MXCSR's FTZ/DAZ bits), read from the
 * thread itself: JavaScript's double arithmetic runs on the same SSE unit, so half the smallest normal double
 * is 0 exactly when the flags are on.
 *
 * Why it matters: onnxruntime-node 1.30 creates and runs every session on the JS main thread (the binding's
 * synchronous `run`, called from `setImmediate`), and in a parallel-for the calling thread computes a share of
 * the work beside ONNX Runtime's pool threads. ONNX Runtime turns the flags on for its pool threads per session,
 * but on the calling thread only once per process, with the first session's `session.set_denormal_as_zero`
 * (a `std::call_once` in InferenceSession): a first session created without it, by any code in the process,
 * leaves this thread slow on subnormals for good.
 */
export function flushesSubnormals(): boolean {
  // From an array, so the division happens at run time and is not folded by the compiler.
  const smallestNormal = new Float64Array([2.2250738585072014e-308]);
  return smallestNormal[0] / 2 === 0;
}
