import { UserError } from '../errors.ts';
import { defaultSettings, type GsnSettings } from '../guidance/settings.ts';
import { type GenerationRequest, validateRequest } from '../pipeline/request.ts';
import { type GenerationResult, StableDiffusion } from '../pipeline/stableDiffusion.ts';
import type { GuidanceTrace } from '../pipeline/trace.ts';
import {
  formatSelectionOptions,
  formatTokenSelection,
  selectTokens,
  type TokenSelection,
} from '../prompt/index.ts';
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
import { generationProgress } from './progress.ts';
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
    { prompt, steps: options.steps, numImages: count, guidanceScale: options.guidance },
    options.height ?? 8,
    options.width ?? 8,
  );

  const imagePaths = numberedPaths(options.out, count);
  const tracePaths = options.trace !== undefined ? numberedPaths(options.trace, count) : [];
  const overwrite = options.overwrite ?? false;
  await checkOutputPaths(
    [...imagePaths, ...tracePaths, ...(options.saveLatents !== undefined ? [options.saveLatents] : [])],
    overwrite,
  );

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

    const settings: GsnSettings | null = guided
      ? { ...defaultSettings(options.method as GsnSettings['method']), ...gsnOverrides(options) }
      : null;
    const tokens = guided
      ? announceTokens(selectTokens(sd.tokenizer, prompt, tokenSpecification(options)))
      : null;

    const request: GenerationRequest = {
      prompt,
      negativePrompt: options.negativePrompt,
      method: options.method,
      seed: options.seed,
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
      tokens: guided ? tokenSpecification(options) : undefined,
      gsn: gsnOverrides(options),
    };
    const progress = generationProgress(count);
    let result: GenerationResult;
    try {
      result = await sd.generate({
        ...request,
        onProgress: progress.onProgress,
        onWarning: (warning) => log(`dnb: warning: ${warning}`),
      });
    } finally {
      progress.stop();
    }
    if (options.seed === undefined && result.seed !== null) log(`seed: ${result.seed}`);

    for (const [k, image] of result.images.entries()) {
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
        seed: result.seed,
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
    }
    if (options.saveLatents !== undefined) {
      await writeLatents(
        options.saveLatents,
        finalLatents(result, channels, height / factor, width / factor),
        {
          overwrite,
        },
      );
    }
    // stdout carries the written paths and nothing else, so scripts can use them.
    for (const path of imagePaths) process.stdout.write(`${path}\n`);
  } finally {
    await sd.release();
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

/** All images' final latents as one [N, C, h, w] tensor, the shape --latents reads back. */
function finalLatents(result: GenerationResult, channels: number, h: number, w: number): LatentsTensor {
  const size = channels * h * w;
  const data = new Float32Array(result.images.length * size);
  for (const [k, image] of result.images.entries()) data.set(image.latents, k * size);
  return { data, shape: [result.images.length, channels, h, w] };
}
