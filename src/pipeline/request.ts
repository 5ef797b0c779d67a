import { UserError } from '../errors.ts';
import type { Method } from '../guidance/methods/index.ts';
import type { GsnSettings } from '../guidance/settings.ts';
import type { TokenSpecification } from '../prompt/index.ts';
import type { RandomDevice, Seed } from '../random/index.ts';
import type { SchedulerKind } from '../schedulers/scheduler.ts';
import type { MicroConditioning } from './families/microConditioning.ts';
import { GENERATION_LIMITS } from './limits.ts';
import type { GeneratedImage } from './stableDiffusion.ts';

export type { Method };

/** One text-to-image request. Unset fields take the official A&E / D&B values. */
export interface GenerationRequest {
  prompt: string;
  /**
   * The unconditional branch of classifier-free guidance. Unset: SD encodes "", SDXL uses zero embeddings
   * (its `force_zeros_for_empty_prompt`); "" is encoded by both.
   */
  negativePrompt?: string;
  method?: Method;
  /**
   * Seed of the PyTorch-compatible generator; default: a random seed, reported in the result. With `latents`
   * it seeds only the noise an ancestral scheduler (euler-a) adds, and there is no default.
   */
  seed?: Seed;
  /** Which PyTorch generator to reproduce: the official examples were seeded on CUDA. Default cpu. */
  rng?: RandomDevice;
  /** Start from these latents [numImages, 4, h/8, w/8] instead of drawing them (scaled by init_noise_sigma). */
  latents?: Float32Array;
  steps?: number;
  /** Default: the family's diffusers default, 7.5 for SD 1.x/2.x and 5.0 for SDXL. */
  guidanceScale?: number;
  /** diffusers' guidance_rescale φ in [0, 1] (Lin et al. 2023, §3.4): rescales the CFG output's std; default 0. */
  guidanceRescale?: number;
  /** SDXL's micro-conditioning (height, width) / (top, left); defaults: the image size, (0, 0), the image size. */
  originalSize?: MicroConditioning['originalSize'];
  cropTopLeft?: MicroConditioning['cropTopLeft'];
  targetSize?: MicroConditioning['targetSize'];
  /** Image size in pixels; default: the UNet's sample_size × the VAE factor. Multiples of 8. */
  height?: number;
  width?: number;
  scheduler?: SchedulerKind;
  karras?: boolean;
  numImages?: number;
  /** The prompt tokens the guidance works on, by index or by word; automatic (nouns and their colours) if unset. */
  tokens?: TokenSpecification;
  /** Overrides of the method's official GSN settings. */
  gsn?: Partial<GsnSettings>;
  /** Keep the smoothed token maps of every guided step in the trace (for the studio). */
  traceMaps?: boolean;
  onProgress?: (event: ProgressEvent) => void;
  /** Told at once of anything the user should know (e.g. a truncated prompt); also listed in the result. */
  onWarning?: (message: string) => void;
  /**
   * Called with each image as soon as it is finished (0-based index) and awaited before the next one starts,
   * so a caller can write it at once and an interrupted run keeps it.
   */
  onImage?: (image: GeneratedImage, index: number) => Promise<void> | void;
  /**
   * Cancels the run: checked before every UNet pass (each GSN iteration too), so it stops within one pass;
   * generate() then rejects with the signal's reason and no later image is started or reported.
   */
  signal?: AbortSignal;
}

/** The callbacks and the signal of a request: how a caller follows and stops a run (not part of its plan). */
export type GenerationHooks = Pick<GenerationRequest, 'onProgress' | 'onWarning' | 'onImage' | 'signal'>;

export interface ProgressEvent {
  /** 0-based image and loop index; `total` loop iterations per image. */
  readonly image: number;
  readonly loopIndex: number;
  readonly total: number;
}

/**
 * Checks the numbers a user can get wrong against GENERATION_LIMITS, with messages that say how to fix them;
 * what depends on the model (its default size, memory) is planning's. The library's planning calls it, and the
 * CLI before the model loads, so a mistake costs no waiting and the limits agree everywhere.
 */
export function validateRequest(request: GenerationRequest): void {
  const { maxSide, maxSteps, maxImages } = GENERATION_LIMITS;
  for (const [name, value] of [
    ['height', request.height],
    ['width', request.width],
  ] as const) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value <= 0 || value % 8 !== 0) {
      throw new UserError(
        `${name} ${value} is not a positive multiple of 8; Stable Diffusion needs that (e.g. 512)`,
      );
    }
    if (value > maxSide) {
      throw new UserError(`${name} ${value} is over the ${maxSide}-pixel limit; SD 1.x/2.x work at 512–768`);
    }
  }
  const steps = request.steps ?? 50;
  if (!Number.isInteger(steps) || steps < 1 || steps > maxSteps) {
    throw new UserError(`steps must be an integer from 1 to ${maxSteps} (the default is 50), got ${steps}`);
  }
  const images = request.numImages ?? 1;
  if (!Number.isInteger(images) || images < 1 || images > maxImages) {
    throw new UserError(`the number of images must be an integer from 1 to ${maxImages}, got ${images}`);
  }
  const scale = request.guidanceScale ?? 7.5;
  if (!Number.isFinite(scale)) throw new UserError(`guidance scale must be a number, got ${scale}`);
  const rescale = request.guidanceRescale ?? 0;
  if (!(rescale >= 0 && rescale <= 1)) {
    throw new UserError(`guidance rescale must be from 0 to 1 (diffusers suggests 0.7), got ${rescale}`);
  }
  for (const [name, pair] of [
    ['original size', request.originalSize],
    ['crop', request.cropTopLeft],
    ['target size', request.targetSize],
  ] as const) {
    if (pair && !(pair.length === 2 && pair.every((v) => Number.isInteger(v) && v >= 0 && v <= 65536))) {
      throw new UserError(`${name} must be two whole numbers of pixels (e.g. 1024,1024), got ${pair}`);
    }
  }
  checkAttributeCount(request.tokens);
}

/**
 * Attributes are aligned with objects, one per object: a list of another length is refused whether it is
 * given by index or by word (a shorter one used to be padded with "none" by index only).
 */
function checkAttributeCount(tokens: TokenSpecification | undefined): void {
  const objects = tokens?.tokenIndices ?? tokens?.objects;
  const attributes = tokens?.attributeIndices ?? tokens?.attributes;
  if (!objects || !attributes || objects.length === attributes.length) return;
  const byIndex = tokens?.attributeIndices !== undefined;
  throw new UserError(
    `there are ${attributes.length} attribute${attributes.length === 1 ? '' : 's'} for ${objects.length} ` +
      `object${objects.length === 1 ? '' : 's'}: give one attribute per object, ` +
      (byIndex ? '0 for none (e.g. --attribute-indices 2,0)' : '- for none (e.g. --attributes purple,-)'),
  );
}
