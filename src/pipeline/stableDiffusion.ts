import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { bindingWeight } from '../guidance/binding.ts';
import { gsnPhase, isGuidedStep } from '../guidance/gsnPhase.ts';
import type { GuidanceGraphSpec, GuidanceTokens } from '../guidance/guidanceGraph.ts';
import { defaultSettings, type GsnSettings, stepSizes } from '../guidance/settings.ts';
import { ClipTokenizer } from '../models/clipTokenizer.ts';
import { type CompiledTextEncoder, loadTextEncoder, type TextEncoder } from '../models/textEncoder/index.ts';
import {
  loadUNet,
  type NoisePredictor,
  type UNet2DConditionModel,
  type UNetDtype,
} from '../models/unet/index.ts';
import {
  type CompiledVaeDecoder,
  imageToRgb8,
  loadVaeDecoder,
  type Rgb8Image,
  type VaeDecoder,
} from '../models/vae/index.ts';
import { selectTokens, type TokenSelection } from '../prompt/index.ts';
import { type Seed, TorchCpuGenerator, TorchCudaGenerator } from '../random/index.ts';
import type { RuntimeOptions } from '../runtime/session.ts';
import { createScheduler } from '../schedulers/index.ts';
import type { Scheduler } from '../schedulers/scheduler.ts';
import type { RawSchedulerConfig } from '../schedulers/schedulerConfig.ts';
import { openDiffusersFolder, readComponentConfig } from '../weights/diffusersFolder.ts';
import { type ResolveModelOptions, resolveModel } from '../weights/resolveModel.ts';
import { defaultAttentionRes } from './attentionResolution.ts';
import { batchedNoise } from './batchedNoise.ts';
import { classifierFreeGuidance } from './classifierFreeGuidance.ts';
import { assertFinite } from './finiteCheck.ts';
import { GuidanceGraphPool, type GuidanceLease } from './guidanceGraphPool.ts';
import { checkMemoryFits } from './limits.ts';
import { withoutInapplicableOptions } from './methodOptions.ts';
import { type GenerationRequest, type Method, validateRequest } from './request.ts';
import { type GuidanceTrace, settingsForTrace, type TraceStep } from './trace.ts';

// `components` is left out: the pipeline needs all of them.
export interface LoadOptions extends RuntimeOptions, Omit<ResolveModelOptions, 'cacheDir' | 'components'> {
  /** Weights variant, e.g. `fp16`. */
  variant?: string;
  /**
   * The UNet's compute dtype (default float32). float16 keeps attention scores, softmax and norms in float32;
   * the text encoder and the VAE always compute in float32 (SD's VAE overflows in half precision).
   */
  dtype?: UNetDtype;
}

export interface GeneratedImage {
  readonly rgb: Rgb8Image;
  /** The final latents [1, 4, h, w], before decoding. */
  readonly latents: Float32Array;
  readonly trace?: GuidanceTrace;
}

export interface GenerationResult {
  readonly images: GeneratedImage[];
  /** The seed used (drawn at random when the request had neither seed nor latents), so the run can be repeated. */
  readonly seed: Seed | null;
  /** Things the user should know, e.g. a truncated prompt. */
  readonly warnings: string[];
}

/**
 * A Stable Diffusion pipeline on a diffusers folder: text encoder, UNet, VAE decoder and scheduler config,
 * with plain, Attend & Excite and Divide & Bind sampling. Compiled graphs are kept and reused across steps,
 * images and requests.
 */
export class StableDiffusion {
  private textGraph?: Promise<CompiledTextEncoder>;
  private readonly noiseGraphs = new Map<string, Promise<NoisePredictor>>();
  private readonly decoderGraphs = new Map<string, Promise<CompiledVaeDecoder>>();
  private guidancePool?: GuidanceGraphPool;

  private constructor(
    readonly folder: string,
    readonly tokenizer: ClipTokenizer,
    readonly textEncoder: TextEncoder,
    readonly unet: UNet2DConditionModel,
    readonly vae: VaeDecoder,
    readonly schedulerConfig: RawSchedulerConfig,
    private readonly runtime: RuntimeOptions,
    private readonly unetDtype: UNetDtype,
  ) {}

  /** Opens a diffusers folder or a Hugging Face repo id (downloaded into the standard cache). */
  static async load(model: string, options: LoadOptions = {}): Promise<StableDiffusion> {
    const { variant, dtype, device, threads, cacheDir, ...hub } = options;
    const root = await resolveModel(model, { ...hub, variant });
    const folder = await openDiffusersFolder(root);
    const [textEncoder, unet, vae, schedulerConfig] = await Promise.all([
      loadTextEncoder(folder, { variant }),
      loadUNet(folder, { variant, dtype }),
      loadVaeDecoder(folder, { variant }),
      readComponentConfig(folder, 'scheduler'),
    ]);
    const tokenizer = ClipTokenizer.fromFolder(join(root, 'tokenizer'));
    return new StableDiffusion(
      root,
      tokenizer,
      textEncoder,
      unet,
      vae,
      schedulerConfig,
      {
        device,
        threads,
        cacheDir,
      },
      dtype ?? 'float32',
    );
  }

  /** The image size [height, width] the model was trained at: the UNet's sample_size × the VAE factor. */
  get defaultSize(): [number, number] {
    const size = this.unet.config.sampleSize;
    if (!size)
      throw new UserError(`${this.folder}: the UNet config has no sample_size; give the height and width`);
    return [size[0] * this.vae.scaleFactor, size[1] * this.vae.scaleFactor];
  }

  /** The conditional embedding of a prompt [1, 77, D], with a warning when the prompt was truncated. */
  async encodePrompt(prompt: string): Promise<{ embedding: Float32Array; warning?: string }> {
    const encoding = this.tokenizer.encode(prompt);
    this.textGraph ??= this.textEncoder.compile({
      batch: 1,
      length: encoding.inputIds.length,
      ...this.runtime,
    });
    const out = await (await this.textGraph).run([encoding.inputIds]);
    const t = encoding.truncated;
    const warning = t
      ? `the prompt is ${t.untruncatedLength} tokens, longer than ${encoding.inputIds.length}; dropped: "${t.droppedText}"`
      : undefined;
    return { embedding: out.data as Float32Array, warning };
  }

  /**
   * Generates `numImages` images, each handed to `onImage` as soon as it is done. Options the method ignores
   * are dropped with a warning; latents or a decoded image holding NaN/Inf stop the run with a
   * NonFiniteError naming the step; `signal` cancels it between UNet passes.
   */
  /**
   * Refuses an image size whose attention scores alone exceed this machine's memory (checked on the CPU, where
   * that memory is the limit; a GPU's own memory is not known here).
   */
  checkSizeFits(height: number, width: number): void {
    if (this.runtime.device !== undefined && this.runtime.device !== 'cpu') return;
    const { heads, downBlockTypes } = this.unet.config;
    const hasAttention = downBlockTypes.map((type) => type === 'CrossAttnDownBlock2D');
    const factor = this.vae.scaleFactor;
    checkMemoryFits({ heads, hasAttention }, { height, width, h: height / factor, w: width / factor });
  }

  async generate(given: GenerationRequest): Promise<GenerationResult> {
    const { request, dropped } = withoutInapplicableOptions(given);
    const method: Method = request.method ?? 'sd';
    const height = request.height ?? this.defaultSize[0];
    const width = request.width ?? this.defaultSize[1];
    validateRequest(request, height, width);
    const factor = this.vae.scaleFactor;
    const [h, w] = [height / factor, width / factor];
    this.checkSizeFits(height, width);
    const latentSize = this.unet.config.inChannels * h * w;
    const count = request.numImages ?? 1;
    const warnings: string[] = [];
    const warn = (warning: string) => {
      warnings.push(warning);
      request.onWarning?.(warning);
    };
    for (const option of dropped) {
      warn(`${option.field} applies only to ${option.appliesTo}; ignored with method ${method}`);
    }
    request.signal?.throwIfAborted();

    const cond = await this.encodePrompt(request.prompt);
    const uncond = await this.encodePrompt(request.negativePrompt ?? '');
    for (const warning of [cond.warning, uncond.warning]) if (warning) warn(warning);
    const textBatch = new Float32Array(uncond.embedding.length * 2);
    textBatch.set(uncond.embedding, 0);
    textBatch.set(cond.embedding, uncond.embedding.length);

    const shape = [count, this.unet.config.inChannels, h, w];
    const { initial, seed, generator } = this.initialLatents(request, shape, width, height);
    const settings: GsnSettings | null =
      method === 'sd' ? null : { ...defaultSettings(method), ...request.gsn };
    const selection = settings ? selectTokens(this.tokenizer, request.prompt, request.tokens) : null;
    const guidance: Guidance | null =
      settings && selection
        ? {
            settings,
            tokens: { objects: selection.tokenIndices, attributes: selection.attributeIndices },
            text: cond.embedding,
          }
        : null;

    const noiseFor = generator ? batchedNoise(generator, count) : null;
    const images: GeneratedImage[] = [];
    // Held for all images of the request; the last image lets go of it after its last guided loop index.
    const lease = guidance ? this.guidanceGraph(guidance.settings, guidance.tokens, h, w) : null;
    try {
      for (let k = 0; k < count; k++) {
        const scheduler = createScheduler(this.schedulerConfig, {
          kind: request.scheduler,
          numInferenceSteps: request.steps ?? 50,
          karras: request.karras,
          randn: noiseFor?.(k),
          sampleShape: [1, ...shape.slice(1)],
        });
        const sigma = Math.fround(scheduler.initNoiseSigma);
        const start = initial.slice(k * latentSize, (k + 1) * latentSize).map((v) => Math.fround(v * sigma));
        const run: DenoisingRun = {
          textBatch,
          guidance,
          request,
          image: k,
          h,
          w,
          lease,
          last: k === count - 1,
        };
        const { latent, steps } = await this.denoise(start, scheduler, run);
        request.signal?.throwIfAborted();
        const decoded = await (await this.vaeDecoder(h, w)).run({
          data: latent,
          shape: [1, ...shape.slice(1)],
        });
        assertFinite(decoded.data as Float32Array, {
          what: 'decoded image',
          image: k,
          dtype: this.unetDtype,
        });
        const trace = guidance && selection ? traceOf(guidance.settings, selection, steps) : undefined;
        const image: GeneratedImage = { rgb: imageToRgb8(decoded)[0], latents: latent, trace };
        images.push(image);
        // A cancel that came during the decode still drops this image: after an abort nothing is reported.
        request.signal?.throwIfAborted();
        await request.onImage?.(image, k);
      }
    } finally {
      await lease?.done();
    }
    return { images, seed, warnings };
  }

  /**
   * The starting noise [N, C, h, w]: the given latents, or one draw for all images from the PyTorch-compatible
   * generator, as diffusers does with num_images_per_prompt. Given latents keep a given seed for an ancestral
   * scheduler's step noise.
   */
  private initialLatents(request: GenerationRequest, shape: number[], width: number, height: number) {
    const seed = request.latents ? (request.seed ?? null) : (request.seed ?? drawSeed());
    const generator =
      seed === null
        ? null
        : request.rng === 'cuda'
          ? new TorchCudaGenerator(seed)
          : new TorchCpuGenerator(seed);
    if (!request.latents) return { initial: generator!.randn(shape), seed, generator };
    const size = shape.reduce((a, b) => a * b, 1);
    if (request.latents.length !== size) {
      throw new UserError(
        `the given latents have ${request.latents.length} values; ${shape[0]} image(s) of ${width}×${height} need [${shape}]`,
      );
    }
    return { initial: request.latents, seed, generator };
  }

  /**
   * One image's denoising loop: at each loop index the GSN phase (where guided), then the batch-2
   * classifier-free guidance pass on the updated latent and the scheduler step (ALGORITHM.md §2.4). Like the
   * official code, the loss pass sees the latent itself, not the scheduler's scaled model input.
   */
  private async denoise(
    start: Float32Array,
    scheduler: Scheduler,
    run: DenoisingRun,
  ): Promise<{ latent: Float32Array; steps: TraceStep[] }> {
    const { guidance, request, textBatch, h, w, lease } = run;
    const timesteps = scheduler.timesteps;
    const sizes = guidance ? stepSizes(guidance.settings, timesteps.length) : [];
    const graph = lease ? await lease.graph : null;
    const lastGuided = guidance ? lastGuidedIndex(guidance.settings, timesteps.length) : -1;
    const noiseGraph = await this.noisePredictor(h, w);
    const steps: TraceStep[] = [];
    let latent = start;
    for (let i = 0; i < timesteps.length; i++) {
      const t = timesteps[i];
      if (guidance && graph && isGuidedStep(guidance.settings, i)) {
        let maps: Float32Array | undefined;
        const phase = await gsnPhase(latent, i, sizes[i], guidance.settings, async (z, loopIndex) => {
          request.signal?.throwIfAborted();
          const evaluation = await graph.evaluate(
            z,
            t,
            guidance.text,
            guidance.tokens,
            bindingWeight(loopIndex),
          );
          maps = evaluation.maps;
          return evaluation;
        });
        latent = phase.latent;
        const keepMaps = request.traceMaps && maps;
        steps.push({ ...phase.report, timestep: t, maps: keepMaps ? Array.from(maps!) : undefined });
        if (run.last && i === lastGuided) await lease?.done();
      }
      request.signal?.throwIfAborted();
      const input = scheduler.scaleModelInput(latent, i);
      const pair = new Float32Array(input.length * 2);
      pair.set(input, 0);
      pair.set(input, input.length);
      const noise = await noiseGraph.predict(pair, t, textBatch);
      latent = scheduler.step(classifierFreeGuidance(noise, request.guidanceScale ?? 7.5), i, latent);
      assertFinite(latent, {
        what: 'latents',
        image: run.image,
        loopIndex: i,
        timestep: t,
        dtype: this.unetDtype,
      });
      request.onProgress?.({ image: run.image, loopIndex: i, total: timesteps.length });
    }
    return { latent, steps };
  }

  /** Compiled graphs hold ONNX Runtime sessions; release them when done. */
  async release(): Promise<void> {
    const all = [
      ...(this.textGraph ? [this.textGraph] : []),
      ...this.noiseGraphs.values(),
      ...this.decoderGraphs.values(),
    ];
    await Promise.all([
      ...all.map(async (graph) => (await graph).release()),
      this.guidancePool?.releaseAll(),
    ]);
  }

  private noisePredictor(h: number, w: number): Promise<NoisePredictor> {
    const key = `${h}x${w}`;
    let graph = this.noiseGraphs.get(key);
    if (!graph) {
      graph = this.unet.compileNoisePrediction({ batch: 2, height: h, width: w }, this.runtime);
      this.noiseGraphs.set(key, graph);
    }
    return graph;
  }

  private vaeDecoder(h: number, w: number): Promise<CompiledVaeDecoder> {
    const key = `${h}x${w}`;
    let graph = this.decoderGraphs.get(key);
    if (!graph) {
      graph = this.vae.compile({ batch: 1, latentHeight: h, latentWidth: w, ...this.runtime });
      this.decoderGraphs.set(key, graph);
    }
    return graph;
  }

  private guidanceGraph(settings: GsnSettings, tokens: GuidanceTokens, h: number, w: number): GuidanceLease {
    const spec: GuidanceGraphSpec = {
      method: settings.method,
      tv: settings.tv,
      objects: tokens.objects.length,
      binding: settings.method === 'divide-bind' && tokens.attributes.some((a) => a > 0),
      attentionRes: settings.attentionRes ?? defaultAttentionRes(this.unet.config, h),
      height: h,
      width: w,
      keys: this.tokenizer.modelMaxLength,
    };
    this.guidancePool ??= new GuidanceGraphPool(this.unet, this.runtime);
    return this.guidancePool.acquire(spec);
  }
}

/** A random seed as generate() draws one when the request has none (a caller can draw it first to show it). */
export function drawSeed(): number {
  return randomInt(2 ** 32);
}

/** What GSN needs at every guided step of a run. */
interface Guidance {
  readonly settings: GsnSettings;
  readonly tokens: GuidanceTokens;
  /** The conditional text embedding [1, 77, D]: the loss pass is conditional only. */
  readonly text: Float32Array;
}

/** The last loop index that runs GSN (updates or refinement), -1 if none. */
function lastGuidedIndex(settings: GsnSettings, loopIterations: number): number {
  for (let i = loopIterations - 1; i >= 0; i--) if (isGuidedStep(settings, i)) return i;
  return -1;
}

/** One image's denoising inputs. */
interface DenoisingRun {
  /** [uncond, cond] text embeddings for the classifier-free guidance pass. */
  readonly textBatch: Float32Array;
  readonly guidance: Guidance | null;
  readonly request: GenerationRequest;
  readonly image: number;
  /** The request's guidance graph, let go of after the last guided loop index of the last image. */
  readonly lease: GuidanceLease | null;
  readonly last: boolean;
  /** Latent height and width. */
  readonly h: number;
  readonly w: number;
}

function traceOf(settings: GsnSettings, selection: TokenSelection, steps: TraceStep[]): GuidanceTrace {
  const token = (t: { index: number; token: string }) => ({ index: t.index, token: t.token });
  return {
    method: settings.method,
    settings: settingsForTrace(settings),
    objects: selection.objects.map(token),
    attributes: selection.attributes.map((a) => (a ? token(a) : null)),
    steps,
  };
}
