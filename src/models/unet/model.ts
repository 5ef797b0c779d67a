import { UserError } from '../../errors.ts';
import { Graph, type Shape } from '../../graph/index.ts';
import type { GraphKey } from '../../runtime/cache.ts';
import { CompiledGraph, type RuntimeOptions } from '../../runtime/session.ts';
import type { DiffusersFolder } from '../../weights/diffusersFolder.ts';
import { checkTensors, type WeightIndex } from '../../weights/weightIndex.ts';
import { openComponentFiles } from '../componentFiles.ts';
import { expectedTensors } from '../parameterSource.ts';
import { ModelParameters } from '../parameters.ts';
import { parseUNetConfig, TEXT_TIME_IDS, type UNetConfig } from './config.ts';
import { MemoParameters } from './memoParameters.ts';
import { type UNetForwardOptions, type UNetInputs, type UNetOutput, unetForward } from './unet.ts';

/** The dtypes the UNet can compute in. Probabilities and the noise prediction are float32 either way. */
export type UNetDtype = 'float32' | 'float16';

export interface LoadUNetOptions {
  /** Weights variant, e.g. `fp16` for `diffusion_pytorch_model.fp16.safetensors`. */
  variant?: string;
  /** Compute dtype (default float32); weights of any stored float dtype are cast to it in the graph. */
  dtype?: UNetDtype;
}

/** Sizes of one compiled noise prediction. */
export interface NoisePredictionShape {
  batch: number;
  /** Latent height and width (image size / VAE scale factor). */
  height: number;
  width: number;
  /** Text tokens per prompt (77 for CLIP). */
  keys?: number;
}

/** A UNet whose config and weights have been read and checked against each other. */
export class UNet2DConditionModel {
  private readonly parameters = new WeakMap<Graph, MemoParameters>();

  constructor(
    readonly config: UNetConfig,
    readonly weights: WeightIndex,
    readonly dtype: UNetDtype = 'float32',
  ) {}

  /**
   * Declares the graph inputs `sample`, `timestep` (a scalar) and `encoder_hidden_states`, and with SDXL's
   * text_time addition also `text_embeds` [B, pooled] and `time_ids` [B, 6] (float32).
   */
  declareInputs(graph: Graph, shape: NoisePredictionShape): UNetInputs {
    return declareUNetInputs(graph, this.config, shape);
  }

  /**
   * Builds the forward pass into `graph`: the noise prediction and every attention layer's probabilities. Weights
   * are bound once per graph, so calling this twice on one graph shares them.
   */
  forward(graph: Graph, inputs: UNetInputs, options: Omit<UNetForwardOptions, 'dtype'> = {}): UNetOutput {
    let params = this.parameters.get(graph);
    if (!params) {
      params = new MemoParameters(new ModelParameters(graph, this.weights, this.dtype));
      this.parameters.set(graph, params);
    }
    return unetForward(params, this.config, inputs, { ...options, dtype: this.dtype });
  }

  /** Compiles the noise prediction alone (what the classifier-free guidance step runs, e.g. with batch 2). */
  async compileNoisePrediction(
    shape: NoisePredictionShape,
    runtime: RuntimeOptions = {},
  ): Promise<NoisePredictor> {
    // Keyed on what determines the graph, so a warm start neither builds nor serialises it.
    const compiled = await CompiledGraph.compileCached(
      this.graphKey({ graph: 'noise', shape: { keys: 77, ...shape } }),
      () => {
        const graph = new Graph();
        return {
          noise: this.forward(graph, this.declareInputs(graph, shape), { materialize: () => false }).noise,
        };
      },
      runtime,
      'unet',
    );
    return new NoisePredictor(
      compiled,
      compiled.outputTypes.noise.shape,
      this.declareInputs(new Graph(), shape),
    );
  }

  /**
   * The cache key of a graph built from this UNet: its weight files, config and dtype, and `spec`, what the
   * caller's build adds (shapes, the guidance it computes).
   */
  graphKey(spec: Record<string, unknown>): GraphKey {
    return {
      files: this.weights.files.map((file) => file.path),
      spec: { ...spec, config: this.config, dtype: this.dtype },
    };
  }
}

/** The graph inputs of one UNet call (see `UNet2DConditionModel.declareInputs`). */
function declareUNetInputs(
  graph: Graph,
  config: UNetConfig,
  { batch, height, width, keys = 77 }: NoisePredictionShape,
): UNetInputs {
  const inputs: UNetInputs = {
    sample: graph.input('sample', [batch, config.inChannels, height, width]),
    timestep: graph.input('timestep', []),
    encoderHiddenStates: graph.input('encoder_hidden_states', [batch, keys, config.crossAttentionDim]),
  };
  if (config.addition) {
    inputs.textEmbeds = graph.input('text_embeds', [batch, config.addition.pooledDim]);
    inputs.timeIds = graph.input('time_ids', [batch, TEXT_TIME_IDS]);
  }
  return inputs;
}

/** SDXL's added conditioning for one call, flat and row-major. */
export interface AddedConditioning {
  /** The pooled text embeddings [B, pooled]. */
  textEmbeds: Float32Array;
  /** The micro-conditioning [B, 6]: original (h, w), crop (top, left), target (h, w) per sample. */
  timeIds: Float32Array;
}

/** A compiled noise prediction: feeds latents, a timestep and text embeddings, returns ε. */
export class NoisePredictor {
  constructor(
    readonly graph: CompiledGraph,
    /** [B, out_channels, H, W]. */
    readonly outputShape: Shape,
    private readonly inputs: UNetInputs,
  ) {}

  /**
   * ε for `sample` at `timestep`. `added` (SDXL's pooled embeddings and time ids) is required when the model has
   * the text_time addition and ignored otherwise, as diffusers ignores `added_cond_kwargs`.
   */
  async predict(
    sample: Float32Array,
    timestep: number,
    encoderHiddenStates: Float32Array,
    added?: AddedConditioning,
  ): Promise<Float32Array> {
    const expect = (name: string, data: Float32Array, shape: Shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      if (data.length !== n)
        throw new UserError(`${name} needs ${n} values ([${shape}]), got ${data.length}`);
    };
    expect('sample', sample, this.inputs.sample.shape);
    expect('encoder_hidden_states', encoderHiddenStates, this.inputs.encoderHiddenStates.shape);
    const feeds: Record<string, Float32Array> = {
      sample,
      timestep: Float32Array.of(timestep),
      encoder_hidden_states: encoderHiddenStates,
    };
    const { textEmbeds, timeIds } = this.inputs;
    if (textEmbeds && timeIds) {
      if (!added) {
        throw new UserError(
          'this UNet (SDXL, addition_embed_type "text_time") needs the pooled text embeddings and the time ids ' +
            '(original size, crop top-left, target size) besides the text embeddings; pass them as `added`',
        );
      }
      expect('text_embeds', added.textEmbeds, textEmbeds.shape);
      expect('time_ids', added.timeIds, timeIds.shape);
      feeds.text_embeds = added.textEmbeds;
      feeds.time_ids = added.timeIds;
    }
    const out = await this.graph.run(feeds);
    return out.noise.data as Float32Array;
  }

  release(): Promise<void> {
    return this.graph.release();
  }
}

/**
 * Reads a UNet from a diffusers pipeline folder (opened, or its path) or from a `unet/` folder itself, and checks
 * that the weights hold exactly the tensors the config implies (names and shapes), naming the file and the keys
 * otherwise.
 */
export async function loadUNet(
  source: DiffusersFolder | string,
  options: LoadUNetOptions = {},
): Promise<UNet2DConditionModel> {
  const { configPath, raw, weights } = await openComponentFiles(source, 'unet', options);
  const config = parseUNetConfig(configPath, raw);
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16') {
    throw new UserError(`UNet dtype ${JSON.stringify(dtype)} is not supported (float32 or float16)`);
  }
  const expected = expectedTensors(weights, (params) => {
    // The smallest call that reaches every weight (add_embedding.* too, when the config has the addition).
    const factor = 2 ** (config.blockOutChannels.length - 1);
    const shape = { batch: 1, height: factor, width: factor, keys: 1 };
    unetForward(params, config, declareUNetInputs(params.graph, config, shape));
  });
  checkTensors(weights, expected);
  return new UNet2DConditionModel(config, weights, dtype);
}
