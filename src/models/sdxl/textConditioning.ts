// SDXL's text conditioning: two CLIP tokenizers and text encoders, as diffusers 0.21.4's
// StableDiffusionXLPipeline.encode_prompt runs them (prompt_2 = prompt, no attention mask).

import { UserError } from '../../errors.ts';
import type { RuntimeOptions } from '../../runtime/session.ts';
import { componentOf, type DiffusersFolder, openDiffusersFolder } from '../../weights/diffusersFolder.ts';
import { type ClipEncoding, ClipTokenizer } from '../clipTokenizer.ts';
import type { LoadModelOptions } from '../loadOptions.ts';
import { type CompiledTextEncoder, loadTextEncoder, type TextEncoder } from '../textEncoder/index.ts';

/** The components SDXL's text conditioning reads. */
const TEXT_COMPONENTS = ['tokenizer', 'tokenizer_2', 'text_encoder', 'text_encoder_2'] as const;

/** The four parts, as loaded from a pipeline folder (`SdxlTextConditioning.load`) or by the caller. */
export interface SdxlTextParts {
  /** CLIP ViT-L's tokenizer (pads with `<|endoftext|>`). */
  tokenizer: ClipTokenizer;
  /** OpenCLIP bigG's tokenizer (pads with `!`, id 0). */
  tokenizer2: ClipTokenizer;
  /** A CLIPTextModel. */
  textEncoder: TextEncoder;
  /** A CLIPTextModelWithProjection: it alone gives the pooled embeddings. */
  textEncoder2: TextEncoder;
}

/** One prompt's conditioning. */
export interface SdxlPromptEmbeddings {
  /** `prompt_embeds` [1, length, D1 + D2]: both encoders' hidden_states[-2], concatenated on the last axis. */
  embeds: Float32Array;
  /** `pooled_prompt_embeds` [1, P]: text_encoder_2's text_embeds. */
  pooled: Float32Array;
  /** Truncation warnings (one per distinct message: both tokenizers usually drop the same tokens). */
  warnings: string[];
}

/** Sizes callers shape their tensors by. */
export interface SdxlTextWidths {
  /** Tokens per prompt (the tokenizers' model_max_length, 77). */
  length: number;
  /** D1 + D2 (the UNet's cross_attention_dim: 2048 for SDXL base). */
  embeds: number;
  /** P, text_encoder_2's projection_dim (1280 for SDXL base). */
  pooled: number;
}

type PenultimateEncoder = CompiledTextEncoder<'penultimate_hidden_state'>;
type PooledEncoder = CompiledTextEncoder<'penultimate_hidden_state' | 'text_embeds'>;

/**
 * Turns a prompt into SDXL's `prompt_embeds` and `pooled_prompt_embeds`:
 *   embeds = cat(text_encoder(ids).hidden_states[-2], text_encoder_2(ids_2).hidden_states[-2], dim=-1)
 *   pooled = text_encoder_2(ids_2).text_embeds = text_projection(final_layer_norm(h)[eos])
 * Each encoder is compiled once (on the first `encode`) and reused. The zero negative embeddings of
 * `force_zeros_for_empty_prompt` are the pipeline's to make, not this class's.
 */
export class SdxlTextConditioning {
  readonly widths: SdxlTextWidths;
  private compiled?: Promise<[PenultimateEncoder, PooledEncoder]>;

  constructor(
    readonly parts: SdxlTextParts,
    private readonly runtime: RuntimeOptions = {},
  ) {
    const { tokenizer, tokenizer2, textEncoder, textEncoder2 } = parts;
    const projection = textEncoder2.config.projectionDim;
    if (projection === null) {
      throw new UserError(
        `${textEncoder2.component}: SDXL's second text encoder must be a CLIPTextModelWithProjection (it gives the pooled embeddings); its config.json describes a ${textEncoder2.config.architecture}`,
      );
    }
    if (tokenizer.modelMaxLength !== tokenizer2.modelMaxLength) {
      throw new UserError(
        `SDXL's two tokenizers must give the same number of tokens, since their embeddings are concatenated per token: tokenizer has model_max_length ${tokenizer.modelMaxLength}, tokenizer_2 ${tokenizer2.modelMaxLength}`,
      );
    }
    this.widths = {
      length: tokenizer.modelMaxLength,
      embeds: textEncoder.config.hiddenSize + textEncoder2.config.hiddenSize,
      pooled: projection,
    };
  }

  /** Reads tokenizer/, tokenizer_2/, text_encoder/ and text_encoder_2/ of an SDXL pipeline folder. */
  static async load(
    source: string | DiffusersFolder,
    options: LoadModelOptions & RuntimeOptions = {},
  ): Promise<SdxlTextConditioning> {
    const { variant, ...runtime } = options;
    const folder =
      typeof source === 'string'
        ? await openDiffusersFolder(source, { components: TEXT_COMPONENTS })
        : source;
    const [textEncoder, textEncoder2] = await Promise.all([
      loadTextEncoder(folder, { component: 'text_encoder', variant }),
      loadTextEncoder(folder, { component: 'text_encoder_2', variant }),
    ]);
    const parts: SdxlTextParts = {
      tokenizer: ClipTokenizer.fromFolder(componentOf(folder, 'tokenizer').dir),
      tokenizer2: ClipTokenizer.fromFolder(componentOf(folder, 'tokenizer_2').dir),
      textEncoder,
      textEncoder2,
    };
    return new SdxlTextConditioning(parts, runtime);
  }

  /**
   * The conditioning of one prompt: `prompt` goes to text_encoder, `prompt2` to text_encoder_2 (diffusers'
   * `prompt_2`, which defaults to `prompt`).
   */
  async encode(prompt: string, prompt2: string = prompt): Promise<SdxlPromptEmbeddings> {
    const encoding = this.parts.tokenizer.encode(prompt);
    const encoding2 = this.parts.tokenizer2.encode(prompt2);
    const [encoder, encoder2] = await this.compile();
    const [out, out2] = await Promise.all([
      encoder.runOutputs([encoding.inputIds]),
      encoder2.runOutputs([encoding2.inputIds]),
    ]);
    const embeds = concatLastAxis(
      out.penultimate_hidden_state.data as Float32Array,
      out2.penultimate_hidden_state.data as Float32Array,
      this.widths.length,
    );
    const warnings = [...new Set([encoding, encoding2].flatMap(truncationWarning))];
    return { embeds, pooled: out2.text_embeds.data as Float32Array, warnings };
  }

  /** Frees both compiled encoders; a later `encode` compiles them again (from the disk cache). */
  async release(): Promise<void> {
    const compiled = this.compiled;
    this.compiled = undefined;
    if (!compiled) return;
    const encoders = await compiled.catch(() => []);
    await Promise.all(encoders.map((encoder) => encoder.release()));
  }

  private compile(): Promise<[PenultimateEncoder, PooledEncoder]> {
    if (!this.compiled) {
      const compiled = this.compileBoth();
      this.compiled = compiled;
      // A failed compile is not kept, so the next call tries again.
      compiled.catch(() => {
        if (this.compiled === compiled) this.compiled = undefined;
      });
    }
    return this.compiled;
  }

  private async compileBoth(): Promise<[PenultimateEncoder, PooledEncoder]> {
    const { textEncoder, textEncoder2 } = this.parts;
    const options = { batch: 1, length: this.widths.length, ...this.runtime };
    const [first, second] = await Promise.allSettled([
      textEncoder.compile({ ...options, outputs: ['penultimate_hidden_state'] }),
      textEncoder2.compile({ ...options, outputs: ['penultimate_hidden_state', 'text_embeds'] }),
    ]);
    if (first.status === 'fulfilled' && second.status === 'fulfilled') return [first.value, second.value];
    // Release the one that compiled, then report the failure.
    for (const result of [first, second]) if (result.status === 'fulfilled') await result.value.release();
    throw first.status === 'rejected' ? first.reason : (second as PromiseRejectedResult).reason;
  }
}

/** The Stable Diffusion pipeline's wording for a prompt longer than the tokenizer's limit. */
function truncationWarning(encoding: ClipEncoding): string[] {
  const t = encoding.truncated;
  if (!t) return [];
  return [
    `the prompt is ${t.untruncatedLength} tokens, longer than ${encoding.inputIds.length}; dropped: "${t.droppedText}"`,
  ];
}

/** torch.cat([a, b], dim=-1) of two [rows, da] and [rows, db] row-major tensors. */
function concatLastAxis(a: Float32Array, b: Float32Array, rows: number): Float32Array {
  const da = a.length / rows;
  const db = b.length / rows;
  const out = new Float32Array(a.length + b.length);
  for (let row = 0; row < rows; row++) {
    out.set(a.subarray(row * da, (row + 1) * da), row * (da + db));
    out.set(b.subarray(row * db, (row + 1) * db), row * (da + db) + da);
  }
  return out;
}
