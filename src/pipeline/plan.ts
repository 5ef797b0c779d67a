/**
 * Resolving a request into a plan: every default, check, merge and choice a generation depends on happens here,
 * once, before any UNet pass. The CLI prints and records the plan, the studio validates with it, and the
 * denoising loop only runs it.
 */
import { UserError } from '../errors.ts';
import { type GuidanceTokens, guidanceMethod } from '../guidance/methods/index.ts';
import { defaultSettings, type GsnSettings } from '../guidance/settings.ts';
import type { ClipTokenizer } from '../models/clipTokenizer.ts';
import type { UNetConfig } from '../models/unet/index.ts';
import { selectTokens, type TokenSelection } from '../prompt/index.ts';
import type { RandomDevice, Seed } from '../random/index.ts';
import { createScheduler, kindOfClassName, type SchedulerKind } from '../schedulers/index.ts';
import type { RawSchedulerConfig } from '../schedulers/schedulerConfig.ts';
import { defaultAttentionRes } from './attentionResolution.ts';
import { type MicroConditioning, resolveMicroConditioning } from './families/microConditioning.ts';
import type { ModelFamily } from './families/modelFamily.ts';
import { checkMemoryFits } from './limits.ts';
import { type InapplicableOption, withoutInapplicableOptions } from './methodOptions.ts';
import { type GenerationRequest, type Method, validateRequest } from './request.ts';
import { drawSeed } from './seed.ts';

/** What GSN needs at every guided loop index of a planned run. */
export interface PlannedGuidance {
  /** The method's official settings with the request's overrides, and the attention resolution resolved. */
  readonly settings: GsnSettings & { readonly attentionRes: number };
  readonly selection: TokenSelection;
  readonly tokens: GuidanceTokens;
  /** Whether the method's objective reads the layers finer than the attention resolution for these tokens. */
  readonly finerLayers: boolean;
}

/** A request resolved against a model: what will run, with nothing left to default. */
export interface GenerationPlan {
  readonly prompt: string;
  /** undefined: no negative prompt (SD encodes "", SDXL uses zero embeddings). */
  readonly negativePrompt: string | undefined;
  readonly method: Method;
  readonly height: number;
  readonly width: number;
  /** [images, channels, latent height, latent width]. */
  readonly latentShape: readonly [number, number, number, number];
  readonly steps: number;
  readonly guidanceScale: number;
  /** diffusers' guidance_rescale φ; 0 = off. */
  readonly guidanceRescale: number;
  readonly scheduler: SchedulerKind;
  readonly karras: boolean | undefined;
  /** null only when the run starts from given latents without a seed. */
  readonly seed: Seed | null;
  /** Whether the seed was drawn here (so a caller can tell the user before the first step). */
  readonly seedDrawn: boolean;
  readonly rng: RandomDevice;
  /** Starting noise [images, C, h, w], when given; otherwise drawn from the seed. */
  readonly latents: Float32Array | undefined;
  readonly guidance: PlannedGuidance | null;
  /** SDXL's micro-conditioning; null for families without it. */
  readonly microConditioning: MicroConditioning | null;
  readonly traceMaps: boolean;
  /** Options that do nothing with this method or model: left out of the run and of what it records. */
  readonly dropped: readonly InapplicableOption[];
  /** Other things the user should know (a truncated prompt). */
  readonly warnings: readonly string[];
}

/** What planning reads of the loaded model. */
export interface PlanningModel {
  readonly family: ModelFamily;
  readonly tokenizer: ClipTokenizer;
  readonly unetConfig: UNetConfig;
  readonly vaeScaleFactor: number;
  readonly schedulerConfig: RawSchedulerConfig;
  /** Where the UNet runs: the memory check applies on the CPU, whose memory is the limit. */
  readonly onCpu: boolean;
}

export function planGeneration(given: GenerationRequest, model: PlanningModel): GenerationPlan {
  validateRequest(given);
  const { request, dropped } = withoutInapplicableOptions(given);
  const method: Method = request.method ?? 'sd';
  const warnings: string[] = [];

  const factor = model.vaeScaleFactor;
  const [height, width] = imageSize(request, model);
  const [h, w] = [height / factor, width / factor];
  if (model.onCpu) {
    const { heads, downBlockTypes } = model.unetConfig;
    const hasAttention = downBlockTypes.map((type) => type === 'CrossAttnDownBlock2D');
    checkMemoryFits({ heads, hasAttention }, { height, width, h, w });
  }
  const count = request.numImages ?? 1;
  const latentShape = [count, model.unetConfig.inChannels, h, w] as const;
  if (request.latents && request.latents.length !== latentShape.reduce((a, b) => a * b, 1)) {
    throw new UserError(
      `the given latents have ${request.latents.length} values; ${count} image(s) of ${width}×${height} need [${latentShape}]`,
    );
  }

  const scheduler = request.scheduler ?? kindOfClassName(model.schedulerConfig['_class_name']);
  const steps = request.steps ?? 50;
  checkSchedulerOptions(model.schedulerConfig, scheduler, steps, request.karras);
  const seedDrawn = !request.latents && request.seed === undefined;
  const seed = request.latents ? (request.seed ?? null) : (request.seed ?? drawSeed());
  if (scheduler === 'euler-a' && seed === null) {
    throw new UserError(
      'the euler-a scheduler adds noise at every step: with given latents, give its seed too',
    );
  }

  for (const [name, text] of [
    ['prompt', request.prompt],
    ['negative prompt', request.negativePrompt],
  ] as const) {
    const truncated = text === undefined ? undefined : model.tokenizer.encode(text).truncated;
    if (truncated) {
      warnings.push(
        `the ${name} is ${truncated.untruncatedLength} tokens, longer than ${model.tokenizer.modelMaxLength}; ` +
          `dropped: "${truncated.droppedText}"`,
      );
    }
  }

  const micro = microConditioningOf(request, model.family, height, width, dropped);
  return {
    prompt: request.prompt,
    negativePrompt: request.negativePrompt,
    method,
    height,
    width,
    latentShape,
    steps,
    guidanceScale: request.guidanceScale ?? model.family.defaultGuidanceScale,
    guidanceRescale: request.guidanceRescale ?? 0,
    scheduler,
    karras: request.karras,
    seed,
    seedDrawn,
    rng: request.rng ?? 'cpu',
    latents: request.latents,
    guidance: method === 'sd' ? null : planGuidance(method, request, model, h),
    microConditioning: micro,
    traceMaps: request.traceMaps ?? false,
    dropped,
    warnings,
  };
}

/**
 * Builds the run's scheduler once, unused, so that options it refuses (Karras sigmas with PNDM, a config it
 * cannot read) fail before any UNet pass rather than at the first image.
 */
function checkSchedulerOptions(
  config: RawSchedulerConfig,
  kind: SchedulerKind,
  steps: number,
  karras: boolean | undefined,
): void {
  createScheduler(config, {
    kind,
    numInferenceSteps: steps,
    karras,
    randn: () => {
      throw new Error('the check draws no noise');
    },
  });
}

/** The given size, or the UNet's sample_size × the VAE factor. */
function imageSize(request: GenerationRequest, model: PlanningModel): [number, number] {
  if (request.height !== undefined && request.width !== undefined) return [request.height, request.width];
  const size = model.unetConfig.sampleSize;
  if (!size) {
    throw new UserError(
      `${model.unetConfig.path}: the UNet config has no sample_size; give the height and width`,
    );
  }
  const factor = model.vaeScaleFactor;
  return [request.height ?? size[0] * factor, request.width ?? size[1] * factor];
}

function planGuidance(
  method: Exclude<Method, 'sd'>,
  request: GenerationRequest,
  model: PlanningModel,
  latentHeight: number,
): PlannedGuidance {
  const merged = { ...defaultSettings(method), ...request.gsn };
  const settings = {
    ...merged,
    attentionRes: merged.attentionRes ?? defaultAttentionRes(model.unetConfig, latentHeight),
  };
  const selection = selectTokens(model.tokenizer, request.prompt, request.tokens);
  const tokens = { objects: selection.tokenIndices, attributes: selection.attributeIndices };
  return { settings, selection, tokens, finerLayers: guidanceMethod(method).readsFinerLayers(tokens) };
}

/** SDXL's original size, crop and target size, resolved; given to another family they are dropped. */
function microConditioningOf(
  request: GenerationRequest,
  family: ModelFamily,
  height: number,
  width: number,
  dropped: InapplicableOption[],
): MicroConditioning | null {
  const given = {
    originalSize: request.originalSize,
    cropTopLeft: request.cropTopLeft,
    targetSize: request.targetSize,
  };
  if (family.microConditioned) return resolveMicroConditioning(given, height, width);
  for (const [field, value] of Object.entries(given)) {
    if (value !== undefined) dropped.push({ field, appliesTo: 'SDXL models' });
  }
  return null;
}

/** Everything the user should be told about a plan, in words a library caller understands. */
export function planWarnings(plan: GenerationPlan): string[] {
  return [
    ...plan.dropped.map(
      (o) => `${o.field} applies only to ${o.appliesTo}; ignored with method ${plan.method}`,
    ),
    ...plan.warnings,
  ];
}
