import { UserError } from '../../errors.ts';
import { Graph, type Shape } from '../../graph/index.ts';
import { CompiledGraph, type RuntimeOptions } from '../../runtime/session.ts';
import type { DiffusersFolder } from '../../weights/diffusersFolder.ts';
import { checkTensors, type WeightIndex } from '../../weights/weightIndex.ts';
import { openComponentFiles } from '../componentFiles.ts';
import { expectedTensors } from '../parameterSource.ts';
import { ModelParameters } from '../parameters.ts';
import { parseUNetConfig, type UNetConfig } from './config.ts';
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

  /** Declares the graph inputs `sample`, `timestep` (a scalar) and `encoder_hidden_states`. */
  declareInputs(graph: Graph, { batch, height, width, keys = 77 }: NoisePredictionShape): UNetInputs {
    return {
      sample: graph.input('sample', [batch, this.config.inChannels, height, width]),
      timestep: graph.input('timestep', []),
      encoderHiddenStates: graph.input('encoder_hidden_states', [batch, keys, this.config.crossAttentionDim]),
    };
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
    const graph = new Graph();
    const inputs = this.declareInputs(graph, shape);
    const { noise } = this.forward(graph, inputs, { materialize: () => false });
    const compiled = await CompiledGraph.compile({ noise }, runtime, 'unet');
    return new NoisePredictor(compiled, noise.shape, inputs);
  }
}

/** A compiled noise prediction: feeds latents, a timestep and text embeddings, returns ε. */
export class NoisePredictor {
  constructor(
    readonly graph: CompiledGraph,
    /** [B, out_channels, H, W]. */
    readonly outputShape: Shape,
    private readonly inputs: UNetInputs,
  ) {}

  async predict(
    sample: Float32Array,
    timestep: number,
    encoderHiddenStates: Float32Array,
  ): Promise<Float32Array> {
    const expect = (name: string, data: Float32Array, shape: Shape) => {
      const n = shape.reduce((a, b) => a * b, 1);
      if (data.length !== n)
        throw new UserError(`${name} needs ${n} values ([${shape}]), got ${data.length}`);
    };
    expect('sample', sample, this.inputs.sample.shape);
    expect('encoder_hidden_states', encoderHiddenStates, this.inputs.encoderHiddenStates.shape);
    const out = await this.graph.run({
      sample,
      timestep: Float32Array.of(timestep),
      encoder_hidden_states: encoderHiddenStates,
    });
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
    const factor = 2 ** (config.blockOutChannels.length - 1);
    const graph = params.graph;
    const inputs: UNetInputs = {
      sample: graph.input('sample', [1, config.inChannels, factor, factor]),
      timestep: graph.input('timestep', []),
      encoderHiddenStates: graph.input('encoder_hidden_states', [1, 1, config.crossAttentionDim]),
    };
    unetForward(params, config, inputs);
  });
  checkTensors(weights, expected);
  return new UNet2DConditionModel(config, weights, dtype);
}
