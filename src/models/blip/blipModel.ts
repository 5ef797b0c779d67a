import { join } from 'node:path';
import { UserError } from '../../errors.ts';
import { Graph, layerNorm, reshape, slice, type Value } from '../../graph/index.ts';
import { CompiledGraph, type RuntimeOptions } from '../../runtime/session.ts';
import { readJsonObject } from '../../weights/diffusersFolder.ts';
import { checkTensors, openComponentWeights, type WeightIndex } from '../../weights/weightIndex.ts';
import type { LoadModelOptions } from '../loadOptions.ts';
import { expectedTensors, type ParameterSource } from '../parameterSource.ts';
import { ModelParameters } from '../parameters.ts';
import { type BlipArchitecture, type BlipConfig, parseBlipConfig, visionTokens } from './config.ts';
import { blipTextModel, lmHead, SELF_ATTENTION_MASKED } from './textModel.ts';
import { blipVisionModel } from './visionModel.ts';

/**
 * Stored tensors the model does not read: `position_ids` buffers (checkpoints converted by older
 * transformers hold them) and `cls.predictions.decoder.bias`, the same Parameter as `cls.predictions.bias`.
 */
const isIgnoredTensor = (name: string) =>
  name.endsWith('.position_ids') || name === 'text_decoder.cls.predictions.decoder.bias';

/** A BLIP checkpoint (BlipForConditionalGeneration or BlipForQuestionAnswering) checked against its config. */
export class BlipModel {
  constructor(
    /** The model folder, for messages. */
    readonly dir: string,
    readonly config: BlipConfig,
    readonly weights: WeightIndex,
    /** config.json as written (text_config's generation settings are read from it). */
    readonly rawConfig: Record<string, unknown>,
  ) {}

  /** config.json's `text_config` as written: what the text decoder's generation config is built from. */
  get rawTextConfig(): Record<string, unknown> {
    const text = this.rawConfig.text_config;
    return typeof text === 'object' && text !== null ? (text as Record<string, unknown>) : {};
  }

  parameters(graph: Graph): ModelParameters {
    return new ModelParameters(graph, this.weights);
  }

  /** Tokens of the image embeds (patches + class token). */
  get imageTokens(): number {
    return visionTokens(this.config.vision);
  }

  /**
   * Compiles the vision model: `pixel_values` [batch, 3, S, S] → `image_embeds` [batch, T, vision hidden] and
   * `pooled` [batch, vision hidden] (`BlipVisionModel`'s pooler_output: post_layernorm applied a second time
   * to the class token; captioning and VQA do not read it).
   */
  async compileVision(batch: number, runtime: RuntimeOptions = {}): Promise<CompiledGraph> {
    const graph = new Graph();
    const { vision } = this.config;
    const pixels = graph.input('pixel_values', [batch, 3, vision.imageSize, vision.imageSize]);
    const params = this.parameters(graph);
    const imageEmbeds = blipVisionModel(params, vision, pixels);
    const post = params.scope('vision_model.post_layernorm');
    const pooled = layerNorm(
      reshape(slice(imageEmbeds, [0], [1], [1]), [batch, vision.hiddenSize]),
      post.get('weight', [vision.hiddenSize]),
      post.get('bias', [vision.hiddenSize]),
      vision.layerNormEps,
    );
    return CompiledGraph.compile({ image_embeds: imageEmbeds, pooled }, runtime, 'blip_vision_model');
  }
}

/**
 * Reads a BLIP folder's config.json and weights and checks that the files hold exactly the tensors the
 * config implies, before anything compiles. `architecture` is what the caller needs (a captioner cannot run
 * a VQA checkpoint's heads).
 */
export async function loadBlipModel(
  dir: string,
  architecture: BlipArchitecture,
  options: LoadModelOptions = {},
): Promise<BlipModel> {
  const configPath = join(dir, 'config.json');
  const raw = await readJsonObject(configPath, `${dir}: not a BLIP model folder (no config.json)`);
  const config = parseBlipConfig(configPath, raw);
  if (config.architecture !== architecture) {
    throw new UserError(
      `${configPath}: the model is a ${config.architecture}, but this needs a ${architecture} ` +
        `(${architecture === 'BlipForQuestionAnswering' ? 'e.g. Salesforce/blip-vqa-base' : 'e.g. Salesforce/blip-image-captioning-base'})`,
    );
  }
  if (
    architecture === 'BlipForQuestionAnswering' &&
    config.text.encoderHiddenSize !== config.text.hiddenSize
  ) {
    // The answer decoder cross-attends the question states (text width) with K/V sized for the image.
    throw new UserError(
      `${configPath}: a BlipForQuestionAnswering needs text_config.encoder_hidden_size (${config.text.encoderHiddenSize}) ` +
        `equal to text_config.hidden_size (${config.text.hiddenSize})`,
    );
  }
  const weights = await openComponentWeights(dir, options);
  checkTensors(
    weights,
    expectedTensors(weights, (params) => buildBlipModelTensors(params, config)),
    {
      ignoreUnexpected: isIgnoredTensor,
    },
  );
  return new BlipModel(dir, config, weights, raw);
}

/**
 * Builds every part the architecture has (vision model, VQA's question encoder, the text decoder and its LM
 * head) on `params`' graph: run on a `TensorRecorder`, it lists every weight the config implies.
 */
export function buildBlipModelTensors(params: ParameterSource, config: BlipConfig): void {
  const graph = params.graph;
  const size = config.vision.imageSize;
  const imageEmbeds = blipVisionModel(params, config.vision, graph.input('pixel_values', [1, 3, size, size]));
  const ids = graph.input('input_ids', [1, 2], 'int64');
  const mask = graph.constant([0, SELF_ATTENTION_MASKED, 0, 0], [1, 1, 2, 2]);
  let decoderStates: Value = imageEmbeds;
  if (config.architecture === 'BlipForQuestionAnswering') {
    decoderStates = blipTextModel(params.scope('text_encoder'), config.text, ids, mask, imageEmbeds);
  }
  const decoder = params.scope('text_decoder');
  lmHead(
    decoder.scope('cls.predictions'),
    config.text,
    blipTextModel(decoder.scope('bert'), config.text, ids, mask, decoderStates),
  );
}
