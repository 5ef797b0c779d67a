import { UserError } from '../../errors.ts';
import { Graph, type Value } from '../../graph/index.ts';
import { CompiledGraph, type HostTensor, type RuntimeOptions } from '../../runtime/session.ts';
import type { DiffusersFolder } from '../../weights/diffusersFolder.ts';
import { checkTensors, type WeightIndex } from '../../weights/weightIndex.ts';
import { openComponentFiles } from '../componentFiles.ts';
import type { LoadModelOptions } from '../loadOptions.ts';
import { expectedTensors } from '../parameterSource.ts';
import { ModelParameters } from '../parameters.ts';
import { type AutoencoderKLConfig, parseAutoencoderKLConfig, vaeScaleFactor } from './config.ts';
import { type VaeDecodeOptions, vaeDecoder } from './decoder.ts';

const COMPONENT = 'vae';

/** The encoder half of an AutoencoderKL file, which decoding does not read. */
const isEncoderTensor = (name: string) => name.startsWith('encoder.') || name.startsWith('quant_conv.');

export interface CompileVaeDecoderOptions extends RuntimeOptions, VaeDecodeOptions {
  batch: number;
  /** Latent height and width (image size / 8 for SD). */
  latentHeight: number;
  latentWidth: number;
}

/** An AutoencoderKL decoder whose config and weights have been read and checked against each other. */
export class VaeDecoder {
  constructor(
    readonly config: AutoencoderKLConfig,
    readonly weights: WeightIndex,
  ) {}

  /** Pixels per latent along each axis (8 for SD). */
  get scaleFactor(): number {
    return vaeScaleFactor(this.config);
  }

  /**
   * Adds the decoder to `graph`. By default `latents` are the pipeline's (scaled) latents and the graph
   * divides them by scaling_factor; see `VaeDecodeOptions.scaledInput`.
   */
  build(graph: Graph, latents: Value, options: VaeDecodeOptions = {}): Value {
    return vaeDecoder(new ModelParameters(graph, this.weights), this.config, latents, options);
  }

  /** Compiles the decoder for a fixed batch and latent size (graph input `latents`, output `image`). */
  async compile(options: CompileVaeDecoderOptions): Promise<CompiledVaeDecoder> {
    const { batch, latentHeight, latentWidth, scaledInput, ...runtime } = options;
    const shape = [batch, this.config.latentChannels, latentHeight, latentWidth];
    const key = {
      files: this.weights.files.map((file) => file.path),
      spec: { graph: 'vae_decoder', shape, scaledInput: scaledInput ?? true, config: this.config },
    };
    const compiled = await CompiledGraph.compileCached(
      key,
      () => {
        const graph = new Graph();
        return { image: this.build(graph, graph.input('latents', shape), { scaledInput }) };
      },
      runtime,
      'vae_decoder',
    );
    return new CompiledVaeDecoder(compiled);
  }
}

export class CompiledVaeDecoder {
  constructor(readonly graph: CompiledGraph) {}

  /** Latents [B, C, h, w] (flat, row-major) → image [B, 3, h·f, w·f] float32, raw (roughly [−1, 1]). */
  async run(latents: Float32Array | HostTensor): Promise<HostTensor> {
    const data = latents instanceof Float32Array ? latents : latents.data;
    const [input] = this.graph.inputs;
    if (!(data instanceof Float32Array) || data.length !== input.shape.reduce((a, b) => a * b, 1)) {
      throw new UserError(`the VAE decoder was compiled for latents [${input.shape}] float32`);
    }
    const { image } = await this.graph.run({ latents: data });
    return image;
  }

  release(): Promise<void> {
    return this.graph.release();
  }
}

/**
 * Reads `vae/config.json` and its weights from a diffusers folder and checks that the files hold exactly
 * the decoder's tensors (encoder-side tensors are ignored). Legacy mid-block attention names
 * (`query/key/value/proj_attn`) are read as diffusers' `to_q/to_k/to_v/to_out.0`.
 */
export async function loadVaeDecoder(
  folder: string | DiffusersFolder,
  options: LoadModelOptions = {},
): Promise<VaeDecoder> {
  const { configPath, raw, weights } = await openComponentFiles(folder, COMPONENT, options);
  const config = parseAutoencoderKLConfig(configPath, raw);
  const expected = expectedTensors(weights, (params) => {
    vaeDecoder(params, config, params.graph.input('latents', [1, config.latentChannels, 1, 1]));
  });
  checkTensors(weights, expected, { ignoreUnexpected: isEncoderTensor });
  return new VaeDecoder(config, weights);
}
