import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../errors.ts';
import { Graph, type Shape, type Value } from '../../graph/index.ts';
import { CompiledGraph, type HostTensor, type RuntimeOptions } from '../../runtime/session.ts';
import { readJsonObject } from '../../weights/diffusersFolder.ts';
import { checkTensors, openComponentWeights, type WeightIndex } from '../../weights/weightIndex.ts';
import { ClipTokenizer } from '../clipTokenizer.ts';
import type { LoadModelOptions } from '../loadOptions.ts';
import { expectedTensors, type ParameterSource } from '../parameterSource.ts';
import { ModelParameters } from '../parameters.ts';
import { type ClipConfig, parseClipConfig } from './config.ts';
import { type ClipTextOutputs, clipTextFeatures, pooledTokenIndex } from './textFeatures.ts';
import { type ClipVisionOutputs, clipImageFeatures } from './visionModel.ts';

/** Buffers older transformers versions saved that the model does not read. */
const IGNORED = new Set(['text_model.embeddings.position_ids', 'vision_model.embeddings.position_ids']);

export interface CompileClipOptions extends RuntimeOptions {
  /** Images or texts per run. */
  batch: number;
  /** Also return the pooled and last hidden states (for tests against transformers' intermediates). */
  hiddenStates?: boolean;
}

/** Token ids of a batch of texts as the text graph takes them. */
export interface ClipTextBatch {
  /** [N, 77] int64, padded with the tokenizer's pad id. */
  inputIds: BigInt64Array;
  /** [N] int64: the position each row is pooled at. */
  pooledIndex: BigInt64Array;
}

/**
 * A Hugging Face `CLIPModel` folder (config.json, model.safetensors, the tokenizer files) whose weights have been
 * checked against its config. Builds and compiles the image and text feature graphs.
 */
export class ClipModel {
  constructor(
    readonly folder: string,
    readonly config: ClipConfig,
    readonly weights: WeightIndex,
    readonly tokenizer: ClipTokenizer,
    /** The trained temperature, raw: logits = exp(logitScale)·cosine (ln 100 in the openai checkpoints). */
    readonly logitScale: number,
  ) {}

  /** Side of the square pixel input (`vision_config.image_size`). */
  get imageSize(): number {
    return this.config.vision.imageSize;
  }

  get textLength(): number {
    return this.config.text.maxPositionEmbeddings;
  }

  /** Adds `get_image_features` to `graph`: pixels [N, 3, S, S] → image_embeds [N, proj] and the vision states. */
  buildImageFeatures(graph: Graph, pixelValues: Value): ClipVisionOutputs & { imageEmbeds: Value } {
    return clipImageFeatures(new ModelParameters(graph, this.weights), this.config, pixelValues);
  }

  /** Adds `get_text_features` to `graph`: ids [N, S] and pooled positions [N] → text_embeds [N, proj]. */
  buildTextFeatures(graph: Graph, inputIds: Value, pooledIndex: Value): ClipTextOutputs {
    return clipTextFeatures(new ModelParameters(graph, this.weights), this.config, inputIds, pooledIndex);
  }

  /** Compiles the image features for a fixed batch (graph input `pixel_values`). */
  async compileImageFeatures(options: CompileClipOptions): Promise<CompiledClipImageFeatures> {
    const { batch, hiddenStates = false, ...runtime } = options;
    const size = this.imageSize;
    const graph = new Graph();
    const pixels = graph.input('pixel_values', [batch, this.config.vision.numChannels, size, size]);
    const out = this.buildImageFeatures(graph, pixels);
    const outputs: Record<string, Value> = { image_embeds: out.imageEmbeds };
    if (hiddenStates) Object.assign(outputs, { pooled: out.pooled, last_hidden_state: out.lastHiddenState });
    const compiled = await CompiledGraph.compile(outputs, runtime, 'clip_image_features');
    return new CompiledClipImageFeatures(compiled, batch);
  }

  /** Compiles the text features for a fixed batch (graph inputs `input_ids`, `pooled_index`). */
  async compileTextFeatures(options: CompileClipOptions): Promise<CompiledClipTextFeatures> {
    const { batch, hiddenStates = false, ...runtime } = options;
    const graph = new Graph();
    const ids = graph.input('input_ids', [batch, this.textLength], 'int64');
    const pooledIndex = graph.input('pooled_index', [batch], 'int64');
    const out = this.buildTextFeatures(graph, ids, pooledIndex);
    const outputs: Record<string, Value> = { text_embeds: out.textEmbeds };
    if (hiddenStates) Object.assign(outputs, { pooled: out.pooled, last_hidden_state: out.lastHiddenState });
    const compiled = await CompiledGraph.compile(outputs, runtime, 'clip_text_features');
    return new CompiledClipTextFeatures(compiled, batch, this.textLength);
  }

  /**
   * Tokenizes like `CLIPProcessor(text=texts, padding="max_length", truncation=True)`: 77 ids per text, and where
   * each is pooled. The golden's `padding=True` pads less; the causal mask makes the embeddings identical.
   */
  tokenize(texts: readonly string[]): ClipTextBatch {
    const length = this.textLength;
    if (this.tokenizer.modelMaxLength !== length) {
      throw new UserError(
        `${this.folder}: the tokenizer makes ${this.tokenizer.modelMaxLength} ids (model_max_length) but the text ` +
          `model takes ${length} (max_position_embeddings)`,
      );
    }
    const inputIds = new BigInt64Array(texts.length * length);
    const pooledIndex = new BigInt64Array(texts.length);
    texts.forEach((text, row) => {
      const ids = this.tokenizer.encode(text).inputIds;
      inputIds.set(ids.map(BigInt), row * length);
      pooledIndex[row] = BigInt(pooledTokenIndex(ids, this.config.text.eosTokenId));
    });
    return { inputIds, pooledIndex };
  }
}

/** A float32 graph output. */
export interface FloatTensor {
  readonly data: Float32Array;
  readonly shape: Shape;
}

export interface ClipFeatures {
  /** [batch, proj]: `image_embeds` or `text_embeds`, not normalised. */
  embeds: FloatTensor;
  /** [batch, hidden], with `hiddenStates`. */
  pooled?: FloatTensor;
  /** [batch, tokens, hidden], with `hiddenStates`. */
  lastHiddenState?: FloatTensor;
}

function features(embeds: HostTensor, pooled?: HostTensor, lastHiddenState?: HostTensor): ClipFeatures {
  const float = (t: HostTensor | undefined) => t && { data: t.data as Float32Array, shape: t.shape };
  return { embeds: float(embeds)!, pooled: float(pooled), lastHiddenState: float(lastHiddenState) };
}

export class CompiledClipImageFeatures {
  constructor(
    readonly graph: CompiledGraph,
    readonly batch: number,
  ) {}

  /** Pixel values [batch, 3, S, S] row-major (CLIPImageProcessor's output, stacked). */
  async run(pixelValues: Float32Array): Promise<ClipFeatures> {
    const out = await this.graph.run({ pixel_values: pixelValues });
    return features(out.image_embeds, out.pooled, out.last_hidden_state);
  }

  release(): Promise<void> {
    return this.graph.release();
  }
}

export class CompiledClipTextFeatures {
  constructor(
    readonly graph: CompiledGraph,
    readonly batch: number,
    readonly length: number,
  ) {}

  async run({ inputIds, pooledIndex }: ClipTextBatch): Promise<ClipFeatures> {
    const out = await this.graph.run({ input_ids: inputIds, pooled_index: pooledIndex });
    return features(out.text_embeds, out.pooled, out.last_hidden_state);
  }

  release(): Promise<void> {
    return this.graph.release();
  }
}

/** Asks the builder for every tensor a CLIPModel with `config` has (the tensor recorder's view of the model). */
export function buildClipModelTensors(params: ParameterSource, config: ClipConfig): void {
  const { graph } = params;
  const size = config.vision.imageSize;
  clipImageFeatures(params, config, graph.input('pixel_values', [1, config.vision.numChannels, size, size]));
  const ids = graph.input('input_ids', [1, config.text.maxPositionEmbeddings], 'int64');
  clipTextFeatures(params, config, ids, graph.input('pooled_index', [1], 'int64'));
  params.get('logit_scale', []);
}

/**
 * Opens a CLIPModel folder as `save_pretrained` writes it (config.json, model.safetensors, vocab.json, merges.txt)
 * and checks that the weights hold exactly the tensors the config implies.
 */
export async function loadClipModel(folder: string, options: LoadModelOptions = {}): Promise<ClipModel> {
  if (!(await stat(folder).catch(() => undefined))?.isDirectory()) {
    throw new UserError(
      `CLIP model folder ${folder} not found (a folder with config.json and model.safetensors)`,
    );
  }
  const configPath = join(folder, 'config.json');
  const raw = await readJsonObject(configPath, `${folder}: no config.json, so it is not a CLIPModel folder`);
  const config = parseClipConfig(configPath, raw);
  const weights = await openComponentWeights(folder, options);
  checkTensors(
    weights,
    expectedTensors(weights, (params) => buildClipModelTensors(params, config)),
    { ignoreUnexpected: (name) => IGNORED.has(name) },
  );
  const tokenizer = ClipTokenizer.fromFolder(folder);
  const [logitScale] = await weights.readFloat32('logit_scale');
  return new ClipModel(folder, config, weights, tokenizer, logitScale);
}
