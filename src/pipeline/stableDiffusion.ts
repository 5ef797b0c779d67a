import { UserError } from '../errors.ts';
import type { ClipTokenizer } from '../models/clipTokenizer.ts';
import type { NoisePredictor, UNet2DConditionModel, UNetDtype } from '../models/unet/index.ts';
import {
  type CompiledVaeDecoder,
  imageToRgb8,
  type Rgb8Image,
  type VaeDecoder,
} from '../models/vae/index.ts';
import { TorchCpuGenerator, TorchCudaGenerator } from '../random/index.ts';
import type { RuntimeOptions } from '../runtime/session.ts';
import { createScheduler } from '../schedulers/index.ts';
import type { RawSchedulerConfig } from '../schedulers/schedulerConfig.ts';
import { type OpenModelOptions, openModel } from '../weights/resolveModel.ts';
import { batchedNoise } from './batchedNoise.ts';
import { denoise } from './denoisingLoop.ts';
import { familyOf, type LoadedFamilyModel, type ModelFamily } from './families/index.ts';
import { assertFinite } from './finiteCheck.ts';
import { GuidanceGraphPool, type GuidanceLease } from './guidanceGraphPool.ts';
import { type GenerationPlan, planGeneration, planWarnings } from './plan.ts';
import type { GenerationHooks, GenerationRequest } from './request.ts';
import { type GuidanceTrace, settingsForTrace, type TraceStep } from './trace.ts';

// `components` is left out: the model's family decides them.
export interface LoadOptions extends RuntimeOptions, Omit<OpenModelOptions, 'cacheDir' | 'components'> {
  /** Weights variant, e.g. `fp16`. */
  variant?: string;
  /**
   * The UNet's compute dtype (default float32). float16 keeps attention scores, softmax and norms in float32;
   * the text encoders and the VAE always compute in float32 (SD's VAE overflows in half precision).
   */
  dtype?: UNetDtype;
  /**
   * Guidance graphs kept open after their generation (default 0: released at once, as one-shot runs want).
   * A long-running process (the studio, the benchmark runner) keeps its recent ones, so the next generation with
   * the same method and size starts at once; each holds a UNet's weights and working memory.
   */
  keepWarm?: number;
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
  readonly seed: GenerationPlan['seed'];
  /** Things the user should know, e.g. a truncated prompt. */
  readonly warnings: readonly string[];
  /** What ran: the request with every default resolved. */
  readonly plan: GenerationPlan;
}

/**
 * A text-to-image pipeline on a diffusers folder of any supported family (SD 1.x/2.x, SDXL), with plain,
 * Attend & Excite and Divide & Bind sampling. `plan` resolves a request, `run` runs a plan; compiled graphs are
 * kept and reused across steps, images and requests.
 */
export class StableDiffusion {
  private readonly noiseGraphs = new Map<string, Promise<NoisePredictor>>();
  private readonly decoderGraphs = new Map<string, Promise<CompiledVaeDecoder>>();
  private guidancePool?: GuidanceGraphPool;

  private constructor(
    readonly folder: string,
    private readonly model: LoadedFamilyModel,
    private readonly runtime: RuntimeOptions,
    private readonly unetDtype: UNetDtype,
    private readonly keepWarm: number,
  ) {}

  /**
   * Opens a diffusers folder, a Hugging Face repo id (only the components its pipeline runs with are downloaded
   * into the standard cache) or a single-file `.safetensors` checkpoint, and loads it with its family.
   */
  static async load(model: string, options: LoadOptions = {}): Promise<StableDiffusion> {
    const {
      variant,
      dtype = 'float32',
      device,
      threads,
      cacheDir,
      optimizedModel,
      keepWarm = 0,
      ...hub
    } = options;
    const folder = await openModel(model, { ...hub, variant });
    const family = familyOf(folder);
    const runtime = { device, threads, cacheDir, optimizedModel };
    const loaded = await family.load(folder, { variant, dtype, runtime });
    return new StableDiffusion(folder.checkpoint ?? folder.root, loaded, runtime, dtype, keepWarm);
  }

  get family(): ModelFamily {
    return this.model.family;
  }
  /** The tokenizer whose positions the guidance's token indices count in. */
  get tokenizer(): ClipTokenizer {
    return this.model.tokenizer;
  }
  get unet(): UNet2DConditionModel {
    return this.model.unet;
  }
  get vae(): VaeDecoder {
    return this.model.vae;
  }
  get schedulerConfig(): RawSchedulerConfig {
    return this.model.schedulerConfig;
  }

  /** The image size [height, width] the model was trained at: the UNet's sample_size × the VAE factor. */
  get defaultSize(): [number, number] {
    const size = this.unet.config.sampleSize;
    if (!size)
      throw new UserError(`${this.folder}: the UNet config has no sample_size; give the height and width`);
    return [size[0] * this.vae.scaleFactor, size[1] * this.vae.scaleFactor];
  }

  /**
   * Resolves a request against this model: sizes, steps, scheduler, seed, the method's settings merged with
   * the overrides, the guidance tokens and the warnings. Throws a UserError for anything that cannot run, before
   * any work.
   */
  plan(request: GenerationRequest): GenerationPlan {
    const device = this.runtime.device;
    return planGeneration(request, {
      family: this.family,
      tokenizer: this.tokenizer,
      unetConfig: this.unet.config,
      vaeScaleFactor: this.vae.scaleFactor,
      schedulerConfig: this.schedulerConfig,
      onCpu: device === undefined || device === 'cpu',
    });
  }

  /** Plans and runs a request, telling `onWarning` the plan's warnings; its hooks follow and cancel the run. */
  generate(request: GenerationRequest): Promise<GenerationResult> {
    const plan = this.plan(request);
    for (const warning of planWarnings(plan)) request.onWarning?.(warning);
    return this.run(plan, request);
  }

  /**
   * Runs a plan: each image is handed to `onImage` as soon as it is done. Latents or a decoded image holding
   * NaN/Inf stop the run with a NonFiniteError naming the step; `signal` cancels it between UNet passes. The
   * plan's own warnings are the caller's to show (`planWarnings`).
   */
  async run(plan: GenerationPlan, hooks: GenerationHooks = {}): Promise<GenerationResult> {
    hooks.signal?.throwIfAborted();
    const conditioning = await this.model.condition(plan);
    const [count, ...imageShape] = plan.latentShape;
    const [, h, w] = imageShape;
    const generator =
      plan.seed === null
        ? null
        : plan.rng === 'cuda'
          ? new TorchCudaGenerator(plan.seed)
          : new TorchCpuGenerator(plan.seed);
    // One draw for all images, as diffusers does with num_images_per_prompt.
    const start = plan.latents ?? generator!.randn([...plan.latentShape]);
    const noiseFor = generator ? batchedNoise(generator, count) : null;
    const noisePredictor = await this.noisePredictor(h, w);
    const imageSize = imageShape.reduce((a, b) => a * b, 1);
    const images: GeneratedImage[] = [];
    // Held for all images of the request; the last image lets go of it after its last guided loop index.
    const lease = plan.guidance ? this.guidanceGraph(plan, h, w) : null;
    try {
      const graph = lease ? await lease.graph : null;
      for (let k = 0; k < count; k++) {
        const scheduler = createScheduler(this.schedulerConfig, {
          kind: plan.scheduler,
          numInferenceSteps: plan.steps,
          karras: plan.karras,
          randn: noiseFor?.(k),
          sampleShape: [1, ...imageShape],
        });
        const sigma = Math.fround(scheduler.initNoiseSigma);
        const latent0 = start.slice(k * imageSize, (k + 1) * imageSize).map((v) => Math.fround(v * sigma));
        const last = k === count - 1;
        const { latent, steps } = await denoise(latent0, {
          plan,
          scheduler,
          noisePredictor,
          conditioning,
          guidance:
            graph && lease ? { graph, afterLastGuidedIndex: last ? lease.done : async () => {} } : null,
          lossPassScalesInput: this.model.lossPassScalesInput,
          image: k,
          dtype: this.unetDtype,
          hooks,
        });
        hooks.signal?.throwIfAborted();
        const decoded = await (await this.vaeDecoder(h, w)).run({ data: latent, shape: [1, ...imageShape] });
        assertFinite(decoded.data as Float32Array, {
          what: 'decoded image',
          image: k,
          dtype: this.unetDtype,
        });
        const trace = traceOf(plan, steps);
        const image: GeneratedImage = { rgb: imageToRgb8(decoded)[0], latents: latent, trace };
        images.push(image);
        // A cancel that came during the decode still drops this image: after an abort nothing is reported.
        hooks.signal?.throwIfAborted();
        await hooks.onImage?.(image, k);
      }
    } finally {
      await lease?.done();
    }
    return { images, seed: plan.seed, warnings: planWarnings(plan), plan };
  }

  /** Compiled graphs hold ONNX Runtime sessions; release them when done. */
  async release(): Promise<void> {
    const all = [...this.noiseGraphs.values(), ...this.decoderGraphs.values()];
    await Promise.all([
      ...all.map(async (graph) => (await graph).release()),
      this.guidancePool?.releaseAll(),
      this.model.release(),
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

  private guidanceGraph(plan: GenerationPlan, h: number, w: number): GuidanceLease {
    const { settings, tokens, finerLayers } = plan.guidance!;
    this.guidancePool ??= new GuidanceGraphPool(this.unet, this.runtime, this.keepWarm);
    return this.guidancePool.acquire({
      method: settings.method,
      tv: settings.tv,
      objects: tokens.objects.length,
      finerLayers,
      attentionRes: settings.attentionRes,
      height: h,
      width: w,
      keys: this.tokenizer.modelMaxLength,
      scaledInput: this.model.lossPassScalesInput,
    });
  }
}

function traceOf(plan: GenerationPlan, steps: TraceStep[]): GuidanceTrace | undefined {
  if (!plan.guidance) return undefined;
  const { settings, selection } = plan.guidance;
  const token = (t: { index: number; token: string }) => ({ index: t.index, token: t.token });
  return {
    method: settings.method,
    settings: settingsForTrace(settings),
    objects: selection.objects.map(token),
    attributes: selection.attributes.map((a) => (a ? token(a) : null)),
    steps,
  };
}
