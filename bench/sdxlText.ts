// SDXL's parts of the benchmark that SD 1.5 does not have: both text encoders compiled as one measured stage, the
// default micro-conditioning, and the UNet input divisor of the loss pass.
import type { FlopCount } from '../src/graph/flops.ts';
import { ClipTokenizer } from '../src/models/clipTokenizer.ts';
import type { LoadModelOptions } from '../src/models/loadOptions.ts';
import { type CompiledTextEncoder, loadTextEncoder } from '../src/models/textEncoder/index.ts';
import type { RuntimeOptions } from '../src/runtime/session.ts';

/**
 * Euler's sqrt(σ² + 1) at loop index 0 of a 10-step `leading` schedule (the fixtures' init_noise_sigma, 8.450067):
 * what the loss pass divides the latent by. The cost does not depend on it.
 */
export const SDXL_INPUT_DIVISOR = 8.450067;

/** diffusers' default add_time_ids for a square image: original (h, w), crop (0, 0), target (h, w). */
export function sdxlTimeIds(size: number): Float32Array {
  return Float32Array.of(size, size, 0, 0, size, size);
}

/** Both SDXL text encoders compiled for one prompt, as `SdxlTextConditioning` compiles them, with their FLOPs. */
export interface SdxlTextBench {
  /** prompt_embeds [1, 77, 2048] (both hidden_states[-2], concatenated per token) and pooled [1, 1280]. */
  encode(prompt: string): Promise<{ embeds: Float32Array; pooled: Float32Array }>;
  flops(): FlopCount;
  release(): Promise<void>;
}

/**
 * Compiles text_encoder (hidden_states[-2]) and text_encoder_2 (hidden_states[-2] and text_embeds) of the SDXL
 * folder at `root`. The encoders are compiled here rather than through `SdxlTextConditioning`, which compiles on
 * its first `encode`, so that compiling and encoding are timed apart.
 */
export async function compileSdxlText(
  root: string,
  options: LoadModelOptions & RuntimeOptions,
): Promise<SdxlTextBench> {
  const { variant, ...runtime } = options;
  const [first, second] = await Promise.all([
    loadTextEncoder(root, { component: 'text_encoder', variant }),
    loadTextEncoder(root, { component: 'text_encoder_2', variant }),
  ]);
  const tokenizers = [
    ClipTokenizer.fromFolder(`${root}/tokenizer`),
    ClipTokenizer.fromFolder(`${root}/tokenizer_2`),
  ];
  const encoder: CompiledTextEncoder<'penultimate_hidden_state'> = await first.compile({
    batch: 1,
    ...runtime,
    outputs: ['penultimate_hidden_state'],
  });
  const encoder2: CompiledTextEncoder<'penultimate_hidden_state' | 'text_embeds'> = await second.compile({
    batch: 1,
    ...runtime,
    outputs: ['penultimate_hidden_state', 'text_embeds'],
  });
  return {
    async encode(prompt) {
      const out = await encoder.runOutputs([tokenizers[0].encode(prompt).inputIds]);
      const out2 = await encoder2.runOutputs([tokenizers[1].encode(prompt).inputIds]);
      const a = out.penultimate_hidden_state.data as Float32Array;
      const b = out2.penultimate_hidden_state.data as Float32Array;
      const rows = 77;
      const [da, db] = [a.length / rows, b.length / rows];
      const embeds = new Float32Array(a.length + b.length);
      for (let row = 0; row < rows; row++) {
        embeds.set(a.subarray(row * da, (row + 1) * da), row * (da + db));
        embeds.set(b.subarray(row * db, (row + 1) * db), row * (da + db) + da);
      }
      return { embeds, pooled: out2.text_embeds.data as Float32Array };
    },
    flops() {
      const [x, y] = [encoder.graph.flops(), encoder2.graph.flops()];
      const byOp: Record<string, number> = { ...x.byOp };
      for (const [op, n] of Object.entries(y.byOp)) byOp[op] = (byOp[op] ?? 0) + n;
      return {
        total: x.total + y.total,
        conv: x.conv + y.conv,
        matmul: x.matmul + y.matmul,
        elementwise: x.elementwise + y.elementwise,
        byOp,
      };
    },
    async release() {
      await encoder.release();
      await encoder2.release();
    },
  };
}
