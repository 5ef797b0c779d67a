/**
 * What a generated PNG says about how it was made: the `parameters` text in the convention of the AUTOMATIC1111
 * web UI (read by image browsers and by "PNG info" tools), and a `dnb` JSON chunk with everything needed to
 * repeat the run with this project.
 */
import type { Method } from '../guidance/methods/index.ts';
import type { GsnSettings } from '../guidance/settings.ts';
import type { MicroConditioning } from '../pipeline/families/microConditioning.ts';
import type { GenerationPlan } from '../pipeline/plan.ts';
import { settingsForTrace } from '../pipeline/trace.ts';
import { formatTokenSelection, type TokenSelection } from '../prompt/index.ts';
import type { RandomDevice, Seed } from '../random/index.ts';
import type { SchedulerKind } from '../schedulers/index.ts';
import type { PngText } from './pngTextChunks.ts';

export interface ImageDescription {
  readonly prompt: string;
  /** undefined: none was given. */
  readonly negativePrompt: string | undefined;
  readonly method: Method;
  /** The model as the user named it (folder or repo id). */
  readonly model: string;
  readonly steps: number;
  readonly guidanceScale: number;
  /** 0 = off. */
  readonly guidanceRescale?: number;
  /** SDXL only. */
  readonly microConditioning?: MicroConditioning | null;
  readonly scheduler: SchedulerKind;
  readonly karras?: boolean;
  readonly height: number;
  readonly width: number;
  /** Null when the run started from a latents file without a seed. */
  readonly seed: Seed | null;
  readonly rng: RandomDevice;
  readonly latentsFile?: string;
  readonly imageIndex: number;
  readonly imageCount: number;
  readonly tokens: TokenSelection | null;
  readonly settings: GsnSettings | null;
}

const SAMPLER_NAMES: Record<SchedulerKind, string> = {
  pndm: 'PNDM',
  ddim: 'DDIM',
  euler: 'Euler',
  'euler-a': 'Euler a',
  'dpm++': 'DPM++ 2M',
};

/** The description of image `imageIndex` of a planned run; `model` as the user named it. */
export function describePlan(
  plan: GenerationPlan,
  { model, latentsFile, imageIndex }: { model: string; latentsFile?: string; imageIndex: number },
): ImageDescription {
  return {
    prompt: plan.prompt,
    negativePrompt: plan.negativePrompt,
    method: plan.method,
    model,
    steps: plan.steps,
    guidanceScale: plan.guidanceScale,
    guidanceRescale: plan.guidanceRescale,
    microConditioning: plan.microConditioning,
    scheduler: plan.scheduler,
    karras: plan.karras,
    height: plan.height,
    width: plan.width,
    seed: plan.seed,
    rng: plan.rng,
    latentsFile,
    imageIndex,
    imageCount: plan.latentShape[0],
    tokens: plan.guidance?.selection ?? null,
    settings: plan.guidance?.settings ?? null,
  };
}

export function imageTextChunks(description: ImageDescription): PngText[] {
  return [
    { keyword: 'parameters', text: a1111Parameters(description) },
    { keyword: 'dnb', text: asciiJson(dnbParameters(description)) },
  ];
}

/** "PROMPT\nNegative prompt: …\nSteps: 50, Sampler: PNDM, CFG scale: 7.5, Seed: 2702, Size: 512x512, …" */
export function a1111Parameters(d: ImageDescription): string {
  const sampler = SAMPLER_NAMES[d.scheduler] + (d.karras ? ' Karras' : '');
  const fields: [string, string | number][] = [
    ['Steps', d.steps],
    ['Sampler', sampler],
    ['CFG scale', d.guidanceScale],
  ];
  if (d.guidanceRescale) fields.push(['CFG rescale', d.guidanceRescale]);
  if (d.seed !== null) {
    fields.push(['Seed', d.seed.toString()]);
    // A1111's names for the generator: "CPU" is torch's CPU generator, "GPU" its CUDA generator.
    fields.push(['RNG', d.rng === 'cuda' ? 'GPU' : 'CPU']);
  }
  if (d.latentsFile !== undefined) fields.push(['Initial latents', d.latentsFile]);
  fields.push(['Size', `${d.width}x${d.height}`], ['Model', d.model]);
  if (d.imageCount > 1) fields.push(['Batch size', d.imageCount], ['Batch pos', d.imageIndex]);
  fields.push(['Method', d.method]);
  if (d.tokens) fields.push(['Tokens', formatTokenSelection(d.tokens)]);
  const lines = [d.prompt];
  if (d.negativePrompt) lines.push(`Negative prompt: ${d.negativePrompt}`);
  lines.push(fields.map(([key, value]) => `${key}: ${quote(String(value))}`).join(', '));
  return lines.join('\n');
}

/** Everything `dnb generate` needs to repeat the run, as plain JSON. */
export function dnbParameters(d: ImageDescription): Record<string, unknown> {
  return {
    prompt: d.prompt,
    negativePrompt: d.negativePrompt,
    method: d.method,
    model: d.model,
    seed: typeof d.seed === 'bigint' ? d.seed.toString() : d.seed,
    rng: d.rng,
    latents: d.latentsFile ?? null,
    image: d.imageIndex,
    images: d.imageCount,
    steps: d.steps,
    guidanceScale: d.guidanceScale,
    guidanceRescale: d.guidanceRescale ?? 0,
    ...(d.microConditioning ? { microConditioning: d.microConditioning } : {}),
    scheduler: d.scheduler,
    karras: d.karras ?? null,
    height: d.height,
    width: d.width,
    tokens: d.tokens && {
      tokenIndices: d.tokens.tokenIndices,
      attributeIndices: d.tokens.attributeIndices,
      objects: d.tokens.objects.map((t) => t.token),
      attributes: d.tokens.attributes.map((t) => t?.token ?? null),
    },
    guidance: d.settings && settingsForTrace(d.settings),
  };
}

/** A1111 quotes a value that holds a separator, so its "Key: value, …" parser reads it back whole. */
function quote(value: string): string {
  return /[,:\n"]/.test(value) ? JSON.stringify(value) : value;
}

/** JSON with non-ASCII characters escaped, so it fits a Latin-1 tEXt chunk unchanged. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
