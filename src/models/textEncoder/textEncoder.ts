import { UserError } from '../../errors.ts';
import { Graph, type Value } from '../../graph/index.ts';
import { CompiledGraph, type HostTensor, type RuntimeOptions } from '../../runtime/session.ts';
import type { DiffusersFolder } from '../../weights/diffusersFolder.ts';
import { checkTensors, type WeightIndex } from '../../weights/weightIndex.ts';
import { openComponentFiles } from '../componentFiles.ts';
import type { LoadModelOptions } from '../loadOptions.ts';
import { expectedTensors } from '../parameterSource.ts';
import { ModelParameters } from '../parameters.ts';
import { clipTextModel } from './clipTextModel.ts';
import { type ClipTextConfig, parseClipTextConfig } from './config.ts';

const COMPONENT = 'text_encoder';

/** Buffers transformers saves (real SD 1.5 files hold `position_ids`) that the model does not read. */
const IGNORED = new Set(['text_model.embeddings.position_ids']);

export interface CompileTextEncoderOptions extends RuntimeOptions {
  /** Prompts per run. */
  batch: number;
  /** Tokens per prompt; max_position_embeddings (77) by default. */
  length?: number;
}

/** A CLIP text encoder whose config and weights have been read and checked against each other. */
export class TextEncoder {
  constructor(
    readonly config: ClipTextConfig,
    readonly weights: WeightIndex,
  ) {}

  /** Adds the encoder to `graph`: [B, S] int64 ids → last_hidden_state [B, S, hidden_size] float32. */
  build(graph: Graph, inputIds: Value): Value {
    return clipTextModel(new ModelParameters(graph, this.weights), this.config, inputIds);
  }

  /** Compiles the encoder for a fixed batch (graph input `input_ids`, output `last_hidden_state`). */
  async compile(options: CompileTextEncoderOptions): Promise<CompiledTextEncoder> {
    const { batch, length = this.config.maxPositionEmbeddings, ...runtime } = options;
    const graph = new Graph();
    const inputIds = graph.input('input_ids', [batch, length], 'int64');
    const out = this.build(graph, inputIds);
    const compiled = await CompiledGraph.compile({ last_hidden_state: out }, runtime, 'clip_text_model');
    return new CompiledTextEncoder(compiled, batch, length, this.config.vocabSize);
  }
}

export class CompiledTextEncoder {
  constructor(
    readonly graph: CompiledGraph,
    readonly batch: number,
    readonly length: number,
    readonly vocabSize: number,
  ) {}

  /** Token ids, [batch][length] or flat row-major; returns last_hidden_state [batch, length, hidden_size]. */
  async run(inputIds: BigInt64Array | readonly (readonly number[])[]): Promise<HostTensor> {
    const ids = inputIds instanceof BigInt64Array ? inputIds : BigInt64Array.from(inputIds.flat(), BigInt);
    if (ids.length !== this.batch * this.length) {
      throw new UserError(
        `the text encoder was compiled for ${this.batch} × ${this.length} token ids, got ${ids.length}`,
      );
    }
    for (const id of ids) {
      if (id < 0n || id >= BigInt(this.vocabSize)) {
        throw new UserError(
          `token id ${id} is outside the text encoder's vocabulary (0…${this.vocabSize - 1})`,
        );
      }
    }
    const { last_hidden_state } = await this.graph.run({ input_ids: ids });
    return last_hidden_state;
  }

  release(): Promise<void> {
    return this.graph.release();
  }
}

/**
 * Reads `text_encoder/config.json` and its weights from a diffusers folder and checks that the files
 * hold exactly the tensors the config implies (ignoring the `position_ids` buffer).
 */
export async function loadTextEncoder(
  folder: string | DiffusersFolder,
  options: LoadModelOptions = {},
): Promise<TextEncoder> {
  const { configPath, raw, weights } = await openComponentFiles(folder, COMPONENT, options);
  const config = parseClipTextConfig(configPath, raw);
  const expected = expectedTensors(weights, (params) => {
    const ids = params.graph.input('input_ids', [1, config.maxPositionEmbeddings], 'int64');
    clipTextModel(params, config, ids);
  });
  checkTensors(weights, expected, { ignoreUnexpected: (name) => IGNORED.has(name) });
  return new TextEncoder(config, weights);
}
