import { resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { GUIDANCE_METHODS, isMethod } from '../guidance/methods/index.ts';
import type { GenerationPlan } from '../pipeline/plan.ts';
import { type GenerationRequest, validateRequest } from '../pipeline/request.ts';
import { type GeneratedImage, StableDiffusion } from '../pipeline/stableDiffusion.ts';
import type { GuidanceTrace } from '../pipeline/trace.ts';
import { formatSelectionOptions, formatTokenSelection, type TokenSelection } from '../prompt/index.ts';
import { assertProviderLoadable } from '../runtime/providers.ts';
import {
  type GenerateOptions,
  gsnOverrides,
  tokenSpecification,
  unusedGuidanceOptions,
} from './generateOptions.ts';
import { describePlan, imageTextChunks } from './imageMetadata.ts';
import { checkLatentsShape, type LatentsTensor, readLatents, writeLatents } from './latentsFile.ts';
import { checkOutputPaths, numberedPaths, writeTextFile } from './outputFiles.ts';
import { type GenerationProgress, generationProgress } from './progress.ts';
import { writePng } from './writePng.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * `dnb generate`: everything that can be checked without the model (option combinations, the latents file,
 * output paths) is checked before the model is loaded, and the tokens before the first step, so a mistake
 * costs no waiting.
 */
export async function runGenerate(prompt: string, options: GenerateOptions): Promise<void> {
  const guided = options.method !== 'sd';
  const unused = unusedGuidanceOptions(options);
  if (options.trace !== undefined && !guided) {
    throw new UserError(
      `--trace records the guidance: use it with --method ${GUIDANCE_METHODS.map((m) => m.name).join(' or ')}`,
    );
  }
  if (unused.length > 0) log(`dnb: warning: ${unused.join(', ')} do nothing with --method sd`);

  const latents = options.latents !== undefined ? await readLatents(options.latents) : undefined;
  const count = options.numImages ?? latents?.shape[0] ?? 1;
  // What needs no model is checked now; the model's defaults are planning's, after the load.
  const request = generationRequest(prompt, options, count, latents);
  validateRequest(request);
  if (options.device) assertProviderLoadable(options.device);

  const imagePaths = numberedPaths(options.out, count);
  const tracePaths = options.trace !== undefined ? numberedPaths(options.trace, count) : [];
  const overwrite = options.overwrite ?? false;
  const outputs: [string, string][] = [
    ...imagePaths.map((path): [string, string] => ['--out', path]),
    ...tracePaths.map((path): [string, string] => ['--trace', path]),
    ...(options.saveLatents !== undefined
      ? [['--save-latents', options.saveLatents] as [string, string]]
      : []),
  ];
  refuseSharedPaths(outputs);
  await checkOutputPaths(
    outputs.map(([, path]) => path),
    overwrite,
  );
  const progress = generationProgress(count);
  // Installed before the model loads, so a Ctrl-C during the load cancels too (the run stops before its first step).
  const interrupt = cancelOnSignals(() => progress.stop());
  try {
    await generateImages(request, options, { latents, imagePaths, tracePaths, progress, interrupt });
  } catch (error) {
    if (!interrupt.received) throw error;
    log(
      `dnb: interrupted by ${interrupt.received}: kept ${interrupt.kept.length} of ${count} image(s)` +
        (interrupt.kept.length > 0 ? ` (${interrupt.kept.join(', ')})` : '') +
        '; unfinished ones were not written',
    );
    process.exitCode = EXIT_CODE_OF_SIGNAL[interrupt.received];
  } finally {
    progress.stop();
    interrupt.dispose();
  }
}

/** The library request the options describe; the pipeline's plan fills in what they leave unset. */
function generationRequest(
  prompt: string,
  options: GenerateOptions,
  count: number,
  latents: LatentsTensor | undefined,
): GenerationRequest {
  const guided = options.method !== 'sd';
  return {
    prompt,
    negativePrompt: options.negativePrompt,
    method: options.method,
    seed: options.seed,
    rng: options.rng,
    latents: latents?.data,
    steps: options.steps,
    guidanceScale: options.guidance,
    guidanceRescale: options.guidanceRescale,
    originalSize: options.originalSize,
    cropTopLeft: options.crop,
    targetSize: options.targetSize,
    height: options.height,
    width: options.width,
    scheduler: options.scheduler,
    karras: options.karras,
    numImages: count,
    tokens: guided ? tokenSpecification(options) : undefined,
    gsn: guided ? gsnOverrides(options) : undefined,
  };
}

/** What runGenerate checked and prepared before the model loads. */
interface PreparedRun {
  readonly latents: LatentsTensor | undefined;
  readonly imagePaths: readonly string[];
  readonly tracePaths: readonly string[];
  readonly progress: GenerationProgress;
  readonly interrupt: Cancellation;
}

/** Loads the model, plans the request on it and generates, writing each image as it is finished. */
async function generateImages(
  given: GenerationRequest,
  options: GenerateOptions,
  run: PreparedRun,
): Promise<void> {
  const { latents, imagePaths, tracePaths, progress, interrupt } = run;
  const overwrite = options.overwrite ?? false;
  const sd = await StableDiffusion.load(options.model, {
    configFrom: options.configFrom,
    variant: options.variant,
    device: options.device,
    dtype: options.dtype === 'fp16' ? 'float16' : 'float32',
    threads: options.threads,
    cacheDir: options.cacheDir,
    optimizedModel: options.optimizedCache,
  });
  try {
    const request = { ...given };
    if (latents && options.latents !== undefined) {
      // The latents decide the size unless it is given; a given size must agree with them.
      const factor = sd.vae.scaleFactor;
      request.height ??= latents.shape[2] * factor;
      request.width ??= latents.shape[3] * factor;
      const expected = [
        given.numImages ?? 1,
        sd.unet.config.inChannels,
        request.height / factor,
        request.width / factor,
      ] as const;
      checkLatentsShape(options.latents, latents, expected, { height: request.height, width: request.width });
    }
    const plan = sd.plan(request);
    announce(plan);

    const [, channels, h, w] = plan.latentShape;
    const finished: Float32Array[] = [];
    // Each image, its trace and the latents so far are written as soon as the image is done, so an interrupt
    // or a later failure keeps them; the pipeline awaits this before it starts the next image.
    const writeImage = async (image: GeneratedImage, k: number) => {
      const texts = imageTextChunks(
        describePlan(plan, { model: options.model, latentsFile: options.latents, imageIndex: k }),
      );
      if (image.trace) reportCapHits(image.trace, plan.latentShape[0] > 1 ? `image ${k}: ` : '');
      await writePng(imagePaths[k], image.rgb, texts, { overwrite });
      if (image.trace && tracePaths[k]) {
        await writeTextFile(tracePaths[k], `${JSON.stringify(image.trace, null, 2)}\n`, { overwrite });
      }
      finished.push(image.latents);
      if (options.saveLatents !== undefined) {
        // Rewritten (atomically) with every image, so it always holds the finished ones as [k+1, C, h, w].
        await writeLatents(options.saveLatents, stackLatents(finished, { channels, h, w }), {
          overwrite: overwrite || k > 0,
        });
      }
      interrupt.kept.push(imagePaths[k]);
      // stdout carries the written paths and nothing else, so scripts can use them.
      process.stdout.write(`${imagePaths[k]}\n`);
    };
    await sd.run(plan, {
      signal: interrupt.signal,
      onImage: writeImage,
      onProgress: progress.onProgress,
      onWarning: (warning) => log(`dnb: warning: ${warning}`),
    });
  } finally {
    await sd.release();
  }
}

/**
 * What the user should see before the first step (after every check, so an input error stays one line): the
 * plan's warnings, the seed when it was drawn (an interrupted or failed run can still be repeated) and the
 * tokens the guidance will work on.
 */
function announce(plan: GenerationPlan): void {
  const byTarget = new Map<string, string[]>();
  for (const option of plan.dropped) {
    const flags = byTarget.get(option.appliesTo) ?? [];
    byTarget.set(option.appliesTo, [...flags, FLAG_OF_FIELD[option.field] ?? option.field]);
  }
  for (const [appliesTo, flags] of byTarget) {
    const target = isMethod(appliesTo) ? `--method ${appliesTo}` : appliesTo;
    log(`dnb: warning: ${flags.join(', ')} only apply to ${target}; ignored`);
  }
  for (const warning of plan.warnings) log(`dnb: warning: ${warning}`);
  if (plan.seedDrawn) log(`seed: ${plan.seed}`);
  if (plan.guidance) announceTokens(plan.guidance.selection);
}

/** The flag of a request field that planning drops. */
const FLAG_OF_FIELD: Record<string, string> = {
  'gsn.tv': '--tv',
  'tokens.attributes': '--attributes',
  'tokens.attributeIndices': '--attribute-indices',
  originalSize: '--original-size',
  cropTopLeft: '--crop',
  targetSize: '--target-size',
};

/** The shell's convention: 128 + the signal number. */
const EXIT_CODE_OF_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;
type CancelSignal = keyof typeof EXIT_CODE_OF_SIGNAL;

/**
 * SIGINT and SIGTERM cancel the run: the pipeline stops before its next UNet pass, so a file being written is
 * finished and nothing half-done is left. `onCancel` runs at once (it gives the terminal back before the wait);
 * a second signal ends the process immediately.
 */
interface Cancellation {
  readonly signal: AbortSignal;
  /** The signal that cancelled the run, if one did. */
  readonly received: CancelSignal | undefined;
  /** The image paths written so far, for the message. */
  readonly kept: string[];
  dispose(): void;
}

function cancelOnSignals(onCancel: () => void): Cancellation {
  const controller = new AbortController();
  let received: CancelSignal | undefined;
  const handler = (name: CancelSignal) => {
    if (received) process.exit(EXIT_CODE_OF_SIGNAL[received]);
    received = name;
    onCancel();
    log(`dnb: ${name} received: stopping after the current step (again to quit at once)`);
    controller.abort(new UserError(`interrupted by ${name}`));
  };
  const names = Object.keys(EXIT_CODE_OF_SIGNAL) as CancelSignal[];
  for (const name of names) process.on(name, handler);
  return {
    signal: controller.signal,
    kept: [],
    get received() {
      return received;
    },
    dispose() {
      for (const name of names) process.off(name, handler);
    },
  };
}

/**
 * Two outputs on one path would overwrite each other (with --overwrite, silently): refused before any work.
 * Paths are compared resolved, so `a.png` and `./a.png` are the same.
 */
function refuseSharedPaths(outputs: readonly [string, string][]): void {
  const seen = new Map<string, string>();
  for (const [flag, path] of outputs) {
    const key = resolve(path);
    const other = seen.get(key);
    if (other !== undefined) {
      throw new UserError(`${other} and ${flag} both write ${path}; give each output its own path`);
    }
    seen.set(key, flag);
  }
}

/** Prints the tokens the guidance will work on, so the user can check them and override them. */
function announceTokens(selection: TokenSelection): void {
  log(`tokens: ${formatTokenSelection(selection)}`);
  if (selection.source === 'automatic')
    log(`  (chosen automatically; to change: ${formatSelectionOptions(selection)})`);
}

/**
 * The official code prints "Exceeded max number of iterations" and goes on; so does this, once per capped
 * refinement, with the indicator it ended on.
 */
function reportCapHits(trace: GuidanceTrace, prefix: string): void {
  for (const step of trace.steps) {
    const r = step.refinement;
    if (!r?.capHit) continue;
    log(
      `${prefix}refinement at loop index ${step.loopIndex} stopped at its cap of ${r.cap} iterations ` +
        `(indicator ${step.indicator.toPrecision(4)}, threshold ${r.threshold})`,
    );
  }
}

/** Finished images' final latents as one [N, C, h, w] tensor, the shape --latents reads back. */
function stackLatents(
  latents: readonly Float32Array[],
  { channels, h, w }: { channels: number; h: number; w: number },
): LatentsTensor {
  const size = channels * h * w;
  const data = new Float32Array(latents.length * size);
  for (const [k, image] of latents.entries()) data.set(image, k * size);
  return { data, shape: [latents.length, channels, h, w] };
}
