import { UserError } from '../../errors.ts';
import { Graph, type Value } from '../../graph/index.ts';
import { CompiledGraph, type HostTensor, type RuntimeOptions } from '../../runtime/session.ts';
import type { DiffusersFolder } from '../../weights/diffusersFolder.ts';
import { checkTensors, type WeightIndex } from '../../weights/weightIndex.ts';
import { pooledTokenIndex } from '../clip/textFeatures.ts';
import { openComponentFiles } from '../componentFiles.ts';
import type { LoadModelOptions } from '../loadOptions.ts';
import { expectedTensors, type ParameterSource } from '../parameterSource.ts';
import { ModelParameters } from '../parameters.ts';
import { clipTextHiddenStates } from './clipTextModel.ts';
import { parseTextEncoderConfig, type TextEncoderConfig } from './config.ts';
import { pooledAt, textProjection } from './textEmbeds.ts';

/** Buffers transformers saves (real SD 1.5 files hold `position_ids`) that the model does not read. */
const IGNORED = new Set(['text_model.embeddings.position_ids']);

/**
 * What a compiled text encoder can return, by transformers' names: `last_hidden_state` [B, S, D] (SD 1.x/2.x),
 * `penultimate_hidden_state` = `hidden_states[-2]` [B, S, D] (SDXL), `pooler_output` [B, D] (last_hidden_state at
 * the eos position) and `text_embeds` [B, projection_dim] (CLIPTextModelWithProjection only: SDXL's pooled
 * embeddings).
 */
export const TEXT_ENCODER_OUTPUTS = [
  'last_hidden_state',
  'penultimate_hidden_state',
  'pooler_output',
  'text_embeds',
] as const;
export type TextEncoderOutput = (typeof TEXT_ENCODER_OUTPUTS)[number];

export interface CompileTextEncoderOptions<K extends TextEncoderOutput = TextEncoderOutput>
  extends RuntimeOptions {
  /** Prompts per run. */
  batch: number;
  /** Tokens per prompt; max_position_embeddings (77) by default. */
  length?: number;
  /** The outputs to compute, `['last_hidden_state']` by default; the graph holds only what they need. */
  outputs?: readonly K[];
}

export interface LoadTextEncoderOptions extends LoadModelOptions {
  /** The pipeline folder's component: `text_encoder` (the default) or SDXL's `text_encoder_2`. */
  component?: string;
}

/** A CLIP text encoder whose config and weights have been read and checked against each other. */
export class TextEncoder {
  constructor(
    readonly config: TextEncoderConfig,
    readonly weights: WeightIndex,
    /** The folder's component it came from, for messages. */
    readonly component = 'text_encoder',
  ) {}

  /** Adds the encoder to `graph`: [B, S] int64 ids → last_hidden_state [B, S, hidden_size] float32. */
  build(graph: Graph, inputIds: Value): Value {
    return clipTextHiddenStates(new ModelParameters(graph, this.weights), this.config, inputIds)
      .lastHiddenState;
  }

  /**
   * Adds the encoder to `graph` with the chosen outputs. `pooledIndex` [B] int64 (each row's eos position,
   * `pooledTokenIndex`) is needed only for `pooler_output` and `text_embeds`.
   */
  buildOutputs<K extends TextEncoderOutput>(
    graph: Graph,
    inputIds: Value,
    outputs: readonly K[],
    pooledIndex?: Value,
  ): Record<K, Value> {
    return encoderOutputs(new ModelParameters(graph, this.weights), this.config, inputIds, outputs, {
      pooledIndex,
      component: this.component,
    });
  }

  /** Compiles the encoder for a fixed batch (graph inputs `input_ids` and, for pooled outputs, `pooled_index`). */
  async compile<K extends TextEncoderOutput = 'last_hidden_state'>(
    options: CompileTextEncoderOptions<K>,
  ): Promise<CompiledTextEncoder<K>> {
    const {
      batch,
      length = this.config.maxPositionEmbeddings,
      outputs = ['last_hidden_state' as K],
      ...runtime
    } = options;
    if (outputs.length === 0) throw new UserError('the text encoder was asked for no outputs');
    const pooled = outputs.some(needsPooling);
    const key = {
      files: this.weights.files.map((file) => file.path),
      spec: { graph: 'text', batch, length, outputs, pooled, config: this.config, component: this.component },
    };
    const compiled = await CompiledGraph.compileCached(
      key,
      () => {
        const graph = new Graph();
        const inputIds = graph.input('input_ids', [batch, length], 'int64');
        const pooledIndex = pooled ? graph.input('pooled_index', [batch], 'int64') : undefined;
        return this.buildOutputs(graph, inputIds, outputs, pooledIndex);
      },
      runtime,
      'clip_text_model',
    );
    return new CompiledTextEncoder<K>(compiled, {
      batch,
      length,
      vocabSize: this.config.vocabSize,
      eosTokenId: this.config.eosTokenId,
      outputs: [...outputs],
      pooled,
    });
  }
}

interface CompiledTextEncoderSpec<K extends TextEncoderOutput> {
  batch: number;
  length: number;
  vocabSize: number;
  eosTokenId: number;
  outputs: K[];
  /** Whether the graph takes `pooled_index`. */
  pooled: boolean;
}

export class CompiledTextEncoder<K extends TextEncoderOutput = 'last_hidden_state'> {
  readonly batch: number;
  readonly length: number;
  readonly vocabSize: number;
  readonly outputs: readonly K[];

  constructor(
    readonly graph: CompiledGraph,
    private readonly spec: CompiledTextEncoderSpec<K>,
  ) {
    ({ batch: this.batch, length: this.length, vocabSize: this.vocabSize, outputs: this.outputs } = spec);
  }

  /**
   * Token ids, [batch][length] or flat row-major; returns the one output the encoder was compiled for
   * (last_hidden_state [batch, length, hidden_size] by default). With several outputs use `runOutputs`.
   */
  async run(inputIds: BigInt64Array | readonly (readonly number[])[]): Promise<HostTensor> {
    if (this.outputs.length !== 1) {
      throw new Error(
        `run() returns one output; this encoder computes ${this.outputs.join(', ')}: use runOutputs()`,
      );
    }
    return (await this.runOutputs(inputIds))[this.outputs[0]];
  }

  /** Token ids as for `run`; returns every output the encoder was compiled for, by name. */
  async runOutputs(inputIds: BigInt64Array | readonly (readonly number[])[]): Promise<Record<K, HostTensor>> {
    const ids = inputIds instanceof BigInt64Array ? inputIds : BigInt64Array.from(inputIds.flat(), BigInt);
    const { batch, length, vocabSize } = this;
    if (ids.length !== batch * length) {
      throw new UserError(
        `the text encoder was compiled for ${batch} × ${length} token ids, got ${ids.length}`,
      );
    }
    for (const id of ids) {
      if (id < 0n || id >= BigInt(vocabSize)) {
        throw new UserError(`token id ${id} is outside the text encoder's vocabulary (0…${vocabSize - 1})`);
      }
    }
    const feeds: Record<string, BigInt64Array> = { input_ids: ids };
    if (this.spec.pooled) {
      feeds['pooled_index'] = BigInt64Array.from({ length: batch }, (_, row) =>
        BigInt(pooledTokenIndex(ids.subarray(row * length, (row + 1) * length), this.spec.eosTokenId)),
      );
    }
    const out = await this.graph.run(feeds);
    return Object.fromEntries(this.outputs.map((name) => [name, out[name]])) as Record<K, HostTensor>;
  }

  release(): Promise<void> {
    return this.graph.release();
  }
}

function needsPooling(output: TextEncoderOutput): boolean {
  return output === 'pooler_output' || output === 'text_embeds';
}

/** The chosen outputs of the text encoder on `params`; building unread ones costs nothing (never emitted). */
function encoderOutputs<K extends TextEncoderOutput>(
  params: ParameterSource,
  config: TextEncoderConfig,
  inputIds: Value,
  outputs: readonly K[],
  { pooledIndex, component }: { pooledIndex?: Value; component: string },
): Record<K, Value> {
  for (const output of outputs) {
    if (!(TEXT_ENCODER_OUTPUTS as readonly string[]).includes(output)) {
      throw new UserError(
        `the text encoder has no output "${output}" (it has ${TEXT_ENCODER_OUTPUTS.join(', ')})`,
      );
    }
  }
  if (outputs.includes('text_embeds' as K) && config.projectionDim === null) {
    throw new UserError(
      `text_embeds needs a CLIPTextModelWithProjection (its text_projection); ${component}/config.json describes a ${config.architecture}`,
    );
  }
  const states = clipTextHiddenStates(params, config, inputIds);
  let pooled: Value | undefined;
  const pooledOutput = (): Value => {
    if (!pooledIndex) throw new Error('pooled outputs need the pooled_index graph input');
    pooled ??= pooledAt(states.lastHiddenState, pooledIndex);
    return pooled;
  };
  const values: Record<TextEncoderOutput, () => Value> = {
    last_hidden_state: () => states.lastHiddenState,
    penultimate_hidden_state: () => states.penultimate,
    pooler_output: pooledOutput,
    // projectionDim is non-null here: checked above.
    text_embeds: () => textProjection(params, pooledOutput(), config.projectionDim ?? 0),
  };
  return Object.fromEntries(outputs.map((name) => [name, values[name]()])) as Record<K, Value>;
}

/**
 * Reads `<component>/config.json` (`text_encoder` by default, `text_encoder_2` for SDXL's second encoder) and its
 * weights from a diffusers folder, and checks that the files hold exactly the tensors the config implies (with
 * `text_projection.weight` for a CLIPTextModelWithProjection; the `position_ids` buffer is ignored).
 */
export async function loadTextEncoder(
  folder: string | DiffusersFolder,
  options: LoadTextEncoderOptions = {},
): Promise<TextEncoder> {
  const { component = 'text_encoder', ...loadOptions } = options;
  const { configPath, raw, weights } = await openComponentFiles(folder, component, loadOptions);
  const config = parseTextEncoderConfig(configPath, raw);
  const everything: TextEncoderOutput[] = config.projectionDim === null ? ['pooler_output'] : ['text_embeds'];
  const expected = expectedTensors(weights, (params) => {
    const ids = params.graph.input('input_ids', [1, config.maxPositionEmbeddings], 'int64');
    const pooledIndex = params.graph.input('pooled_index', [1], 'int64');
    encoderOutputs(params, config, ids, everything, { pooledIndex, component });
  });
  checkTensors(weights, expected, { ignoreUnexpected: (name) => IGNORED.has(name) });
  return new TextEncoder(config, weights, component);
}
