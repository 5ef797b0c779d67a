import { resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { defaultSettings, type GsnSettings } from '../guidance/settings.ts';
import { withoutInapplicableOptions } from '../pipeline/methodOptions.ts';
import { type GenerationRequest, validateRequest } from '../pipeline/request.ts';
import { drawSeed, type GeneratedImage, StableDiffusion } from '../pipeline/stableDiffusion.ts';
import type { GuidanceTrace } from '../pipeline/trace.ts';
import {
  formatSelectionOptions,
  formatTokenSelection,
  selectTokens,
  type TokenSelection,
} from '../prompt/index.ts';
import type { Seed } from '../random/index.ts';
import { kindOfClassName } from '../schedulers/index.ts';
import {
  type GenerateOptions,
  gsnOverrides,
  tokenSpecification,
  unusedGuidanceOptions,
} from './generateOptions.ts';
import { imageTextChunks } from './imageMetadata.ts';
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
    throw new UserError('--trace records the guidance: use it with --method attend-excite or divide-bind');
  }
  if (unused.length > 0) log(`dnb: warning: ${unused.join(', ')} do nothing with --method sd`);

  const latents = options.latents !== undefined ? await readLatents(options.latents) : undefined;
  const count = options.numImages ?? latents?.shape[0] ?? 1;
  // The model decides unset sizes; given ones are checked now (8 stands in for "not given").
  validateRequest(
    {
      prompt,
      steps: options.steps,
      numImages: count,
      guidanceScale: options.guidance,
      tokens: guided ? tokenSpecification(options) : undefined,
    },
    options.height ?? 8,
    options.width ?? 8,
  );

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
  const seed = options.seed ?? (latents ? undefined : drawSeed());
  try {
    await generateImages(prompt, options, {
      latents,
      count,
      seed,
      imagePaths,
      tracePaths,
      progress,
      interrupt,
    });
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

/** What runGenerate checked and prepared before the model loads. */
interface PreparedRun {
  readonly latents: LatentsTensor | undefined;
  readonly count: number;
  readonly seed: Seed | undefined;
  readonly imagePaths: readonly string[];
  readonly tracePaths: readonly string[];
  readonly progress: GenerationProgress;
  readonly interrupt: Cancellation;
}

/** Loads the model and generates, writing each image as it is finished. */
async function generateImages(prompt: string, options: GenerateOptions, run: PreparedRun): Promise<void> {
  const { latents, count, seed, imagePaths, tracePaths, progress, interrupt } = run;
  const guided = options.method !== 'sd';
  const overwrite = options.overwrite ?? false;
  const sd = await StableDiffusion.load(options.model, {
    variant: options.variant,
    device: options.device,
    dtype: options.dtype === 'fp16' ? 'float16' : 'float32',
    threads: options.threads,
    cacheDir: options.cacheDir,
  });
  try {
    const factor = sd.vae.scaleFactor;
    const channels = sd.unet.config.inChannels;
    const height = options.height ?? (latents ? latents.shape[2] * factor : sd.defaultSize[0]);
    const width = options.width ?? (latents ? latents.shape[3] * factor : sd.defaultSize[1]);
    if (latents && options.latents !== undefined) {
      checkLatentsShape(options.latents, latents, [count, channels, height / factor, width / factor], {
        height,
        width,
      });
    }

    const scheduler = options.scheduler ?? kindOfClassName(sd.schedulerConfig['_class_name']);
    if (scheduler === 'euler-a' && latents && options.seed === undefined) {
      throw new UserError(
        'the euler-a scheduler adds noise at every step: with --latents, give its --seed too',
      );
    }

    // Options the method ignores are said once and kept out of the run and of the PNG's parameters.
    const { request: applicable, dropped } = withoutInapplicableOptions({
      prompt,
      method: options.method,
      tokens: guided ? tokenSpecification(options) : undefined,
      gsn: gsnOverrides(options),
    });
    if (guided && dropped.length > 0) {
      const flags = dropped.map((option) => FLAG_OF_FIELD[option.field] ?? option.field);
      log(`dnb: warning: ${flags.join(', ')} only apply to --method divide-bind; ignored`);
    }
    const settings: GsnSettings | null = guided
      ? { ...defaultSettings(options.method as GsnSettings['method']), ...applicable.gsn }
      : null;
    const tokens = guided ? announceTokens(selectTokens(sd.tokenizer, prompt, applicable.tokens)) : null;

    const request: GenerationRequest = {
      prompt,
      negativePrompt: options.negativePrompt,
      method: options.method,
      seed,
      rng: options.rng,
      latents: latents?.data,
      steps: options.steps,
      guidanceScale: options.guidance,
      height,
      width,
      scheduler: options.scheduler,
      karras: options.karras,
      numImages: count,
      // The same specification gives the pipeline the same choice, and its trace says how it was made.
      tokens: applicable.tokens,
      gsn: applicable.gsn,
    };
    const shape = { channels, h: height / factor, w: width / factor };
    const finished: Float32Array[] = [];
    // Each image, its trace and the latents so far are written as soon as the image is done, so an interrupt
    // or a later failure keeps them; the pipeline awaits this before it starts the next image.
    const writeImage = async (image: GeneratedImage, k: number) => {
      const texts = imageTextChunks({
        prompt,
        negativePrompt: options.negativePrompt,
        method: options.method,
        model: options.model,
        steps: options.steps,
        guidanceScale: options.guidance,
        scheduler,
        karras: options.karras,
        height,
        width,
        seed: seed ?? null,
        rng: options.rng,
        latentsFile: options.latents,
        imageIndex: k,
        imageCount: count,
        tokens,
        settings,
      });
      if (image.trace) reportCapHits(image.trace, count > 1 ? `image ${k}: ` : '');
      await writePng(imagePaths[k], image.rgb, texts, { overwrite });
      if (image.trace && tracePaths[k]) {
        await writeTextFile(tracePaths[k], `${JSON.stringify(image.trace, null, 2)}\n`, { overwrite });
      }
      finished.push(image.latents);
      if (options.saveLatents !== undefined) {
        // Rewritten (atomically) with every image, so it always holds the finished ones as [k+1, C, h, w].
        await writeLatents(options.saveLatents, stackLatents(finished, shape), {
          overwrite: overwrite || k > 0,
        });
      }
      interrupt.kept.push(imagePaths[k]);
      // stdout carries the written paths and nothing else, so scripts can use them.
      process.stdout.write(`${imagePaths[k]}\n`);
    };

    // Printed before the first step (and after every check, so an input error stays one line): an interrupted
    // or failed run can still be repeated.
    sd.checkSizeFits(height, width);
    if (options.seed === undefined && seed !== undefined) log(`seed: ${seed}`);
    await sd.generate({
      ...request,
      signal: interrupt.signal,
      onImage: writeImage,
      onProgress: progress.onProgress,
      onWarning: (warning) => log(`dnb: warning: ${warning}`),
    });
  } finally {
    await sd.release();
  }
}

/** The flag of a request field that withoutInapplicableOptions drops. */
const FLAG_OF_FIELD: Record<string, string> = {
  'gsn.tv': '--tv',
  'tokens.attributes': '--attributes',
  'tokens.attributeIndices': '--attribute-indices',
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
function announceTokens(selection: TokenSelection): TokenSelection {
  log(`tokens: ${formatTokenSelection(selection)}`);
  if (selection.source === 'automatic')
    log(`  (chosen automatically; to change: ${formatSelectionOptions(selection)})`);
  return selection;
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
