import type { Conditioning } from '../../guidance/guidanceGraph.ts';
import type { ClipTokenizer } from '../../models/clipTokenizer.ts';
import type { UNet2DConditionModel, UNetDtype } from '../../models/unet/index.ts';
import type { VaeDecoder } from '../../models/vae/index.ts';
import type { RuntimeOptions } from '../../runtime/session.ts';
import type { RawSchedulerConfig } from '../../schedulers/schedulerConfig.ts';
import type { DiffusersFolder } from '../../weights/diffusersFolder.ts';
import type { MicroConditioning } from './microConditioning.ts';

/**
 * A family of models that share a pipeline: which components it loads, how a prompt becomes the UNet's
 * conditioning, and what the denoising loop must know about it. Everything else (planning, the loop, guidance,
 * decoding) is the same for every family, so a new family is one file in ./index.ts's registry.
 */
export interface ModelFamily {
  readonly name: string;
  /** For people: "Stable Diffusion 1.x/2.x", "SDXL". */
  readonly label: string;
  /** The model_index.json `_class_name`s this family runs. */
  readonly pipelineClasses: readonly string[];
  /** The model_index.json components it loads. */
  readonly components: readonly string[];
  /** CFG scale when the request gives none: the default of the family's diffusers pipeline. */
  readonly defaultGuidanceScale: number;
  /** Whether the UNet takes micro-conditioning (SDXL's original size, crop and target size). */
  readonly microConditioned: boolean;
  load(folder: DiffusersFolder, options: FamilyLoadOptions): Promise<LoadedFamilyModel>;
}

export interface FamilyLoadOptions {
  readonly variant?: string;
  readonly dtype: UNetDtype;
  readonly runtime: RuntimeOptions;
}

/** What the family needs to condition one image: the prompts as planned, and its size. */
export interface ConditioningRequest {
  readonly prompt: string;
  /** undefined: no negative prompt (SD encodes "", SDXL uses zero embeddings). */
  readonly negativePrompt: string | undefined;
  /** SDXL's micro-conditioning, resolved; null for families without it. */
  readonly microConditioning: MicroConditioning | null;
}

/** The UNet's conditioning by graph input name, for the two kinds of UNet pass. */
export interface PromptConditioning {
  /** Batch 2, [unconditional, conditional]: the classifier-free guidance pass. */
  readonly guided: Conditioning;
  /** Batch 1, the conditional branch only: the loss pass of the guidance. */
  readonly conditional: Conditioning;
}

/** A family's components, loaded and checked. */
export interface LoadedFamilyModel {
  readonly family: ModelFamily;
  /** The tokenizer whose positions the guidance's token indices count in. */
  readonly tokenizer: ClipTokenizer;
  readonly unet: UNet2DConditionModel;
  readonly vae: VaeDecoder;
  readonly schedulerConfig: RawSchedulerConfig;
  /**
   * Whether the loss pass feeds the UNet the scheduler's scaled input (and differentiates with respect to the
   * latent the scheduler holds), as SDXL's reference does; false: the latent itself, as the official SD code.
   */
  readonly lossPassScalesInput: boolean;
  condition(request: ConditioningRequest): Promise<PromptConditioning>;
  /** Releases the text encoders' sessions. */
  release(): Promise<void>;
}
