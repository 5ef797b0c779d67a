/**
 * The options of `dnb generate` as commander parses them, and their translation into the library's request
 * types. Guidance options have no commander defaults: unset means the chosen method's official value.
 */
import type { GsnSettings } from '../guidance/settings.ts';
import type { TvVariant } from '../guidance/totalVariation.ts';
import type { Method } from '../pipeline/request.ts';
import type { TokenSpecification } from '../prompt/index.ts';
import type { RandomDevice, Seed } from '../random/index.ts';
import type { Device } from '../runtime/providers.ts';
import type { SchedulerKind } from '../schedulers/index.ts';

/** The options of generationOptions.ts, as commander parses them; shared by `generate` and `benchmark run`. */
export interface GenerationSettingOptions {
  model: string;
  configFrom?: string;
  /** Unset: none (SD encodes "", SDXL uses zero embeddings). */
  negativePrompt?: string;
  rng: RandomDevice;
  steps: number;
  /** Unset: the model family's default (7.5 SD, 5.0 SDXL). */
  guidance?: number;
  guidanceRescale?: number;
  // SDXL micro-conditioning
  originalSize?: [number, number];
  crop?: [number, number];
  targetSize?: [number, number];
  height?: number;
  width?: number;
  scheduler?: SchedulerKind;
  karras?: boolean;
  // GSN settings
  maxIterToAlter?: number;
  scaleFactor?: number;
  scaleRange?: [number, number];
  thresholds?: Map<number, number>;
  refinementCaps?: [number, number];
  tv?: TvVariant;
  attentionRes?: number;
  // runtime
  device?: Device;
  dtype?: 'fp32' | 'fp16';
  threads?: number;
  variant?: string;
  cacheDir?: string;
  /** false with --no-optimized-cache. */
  optimizedCache?: boolean;
}

export interface GenerateOptions extends GenerationSettingOptions {
  method: Method;
  seed?: Seed;
  numImages?: number;
  out: string;
  latents?: string;
  saveLatents?: string;
  overwrite?: boolean;
  // guidance tokens
  tokenIndices?: number[];
  attributeIndices?: number[];
  objects?: string[];
  attributes?: string[];
  trace?: string;
}

/** The options that only guided methods use, by their command-line names. */
const GUIDANCE_OPTIONS = {
  tokenIndices: '--token-indices',
  attributeIndices: '--attribute-indices',
  objects: '--objects',
  attributes: '--attributes',
  maxIterToAlter: '--max-iter-to-alter',
  scaleFactor: '--scale-factor',
  scaleRange: '--scale-range',
  thresholds: '--thresholds',
  refinementCaps: '--refinement-caps',
  tv: '--tv',
  attentionRes: '--attention-res',
  trace: '--trace',
} as const satisfies Partial<Record<keyof GenerateOptions, string>>;

/** Guidance options given with `--method sd`, where they do nothing. */
export function unusedGuidanceOptions(options: GenerateOptions): string[] {
  if (options.method !== 'sd') return [];
  return Object.entries(GUIDANCE_OPTIONS)
    .filter(([key]) => options[key as keyof GenerateOptions] !== undefined)
    .map(([, flag]) => flag);
}

export function tokenSpecification(options: GenerateOptions): TokenSpecification {
  return {
    tokenIndices: options.tokenIndices,
    attributeIndices: options.attributeIndices,
    objects: options.objects,
    attributes: options.attributes,
  };
}

/** The settings the user changed; the pipeline fills in the rest from the method's official defaults. */
export function gsnOverrides(options: GenerationSettingOptions): Partial<GsnSettings> {
  const overrides: Partial<GsnSettings> = {
    maxIterToAlter: options.maxIterToAlter,
    scaleFactor: options.scaleFactor,
    scaleRange: options.scaleRange,
    thresholds: options.thresholds,
    refinementCaps: options.refinementCaps,
    tv: options.tv,
    attentionRes: options.attentionRes,
  };
  // An explicit undefined would replace a default when spread over the defaults.
  return Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
}
