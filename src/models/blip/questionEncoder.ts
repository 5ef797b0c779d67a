import { UserError } from '../../errors.ts';
import { Graph } from '../../graph/index.ts';
import { CompiledGraph, type HostTensor, type RuntimeOptions } from '../../runtime/session.ts';
import type { BlipModel } from './blipModel.ts';
import { blipTextModel, SELF_ATTENTION_MASKED } from './textModel.ts';

export interface QuestionStates {
  readonly states: HostTensor;
  readonly length: number;
}

/** Question lengths are padded up to a multiple of this, so questions of nearby lengths share one graph. */
const LENGTH_STEP = 16;

/**
 * BlipForQuestionAnswering's question encoder: `text_encoder(input_ids, attention_mask,
 * encoder_hidden_states=image_embeds).last_hidden_state`, BERT layers with bidirectional self-attention
 * (padding masked with −10000) and cross-attention to the image (all ones). transformers keeps `[CLS]` as
 * the first token (the original BLIP replaced it by `[ENC]`).
 *
 * Rows are padded to a multiple of 16 positions with `[PAD]` and masked: a real position gives every padded
 * one a weight of exp(−10000) = 0, so its state is the same as without the padding, and padded positions
 * (which transformers' batched VQA lets the answer decoder read, see `blipVqa.ts`) are computed exactly as
 * transformers computes them.
 */
export class QuestionEncoder {
  private readonly graphs = new Map<string, Promise<CompiledGraph>>();

  constructor(
    readonly model: BlipModel,
    private readonly runtime: RuntimeOptions = {},
  ) {}

  /**
   * Question states for `inputIds` (rows of one length L, as the tokenizer pads them) with `attentionMask`
   * (1 = token, 0 = padding), all over the image embeds [1, T, vision hidden] of one image: `states`
   * [B, L', hidden] with L' ≥ L the padded length (positions from L on are this class's padding, to be masked
   * by whoever reads the states), `length` = L.
   */
  async encode(
    inputIds: readonly (readonly number[])[],
    attentionMask: readonly (readonly number[])[],
    imageEmbeds: HostTensor,
  ): Promise<QuestionStates> {
    const text = this.model.config.text;
    const batch = inputIds.length;
    const length = inputIds[0]?.length ?? 0;
    if (length === 0 || inputIds.some((row) => row.length !== length)) {
      throw new Error('question rows must be non-empty and equally long');
    }
    if (length > text.maxPositionEmbeddings) {
      throw new UserError(
        `a question of ${length} tokens is longer than the model's ${text.maxPositionEmbeddings} positions; shorten it`,
      );
    }
    const padded = Math.min(text.maxPositionEmbeddings, Math.ceil(length / LENGTH_STEP) * LENGTH_STEP);
    const ids = new BigInt64Array(batch * padded).fill(BigInt(text.padTokenId));
    const mask = new Float32Array(batch * padded).fill(SELF_ATTENTION_MASKED);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < length; i++) {
        ids[b * padded + i] = BigInt(inputIds[b][i]);
        mask[b * padded + i] = attentionMask[b][i] ? 0 : SELF_ATTENTION_MASKED;
      }
    }
    const graph = await this.graph(batch, padded, imageEmbeds.shape[1]);
    const { question_states } = await graph.run({
      input_ids: { data: ids, shape: [batch, padded] },
      attention_mask: { data: mask, shape: [batch, 1, 1, padded] },
      image_embeds: imageEmbeds,
    });
    return { states: question_states, length };
  }

  private graph(batch: number, length: number, imageTokens: number): Promise<CompiledGraph> {
    const key = `${batch}x${length}`;
    let compiled = this.graphs.get(key);
    if (!compiled) {
      const { text, vision } = this.model.config;
      const graph = new Graph();
      const ids = graph.input('input_ids', [batch, length], 'int64');
      const mask = graph.input('attention_mask', [batch, 1, 1, length]);
      const image = graph.input('image_embeds', [1, imageTokens, vision.hiddenSize]);
      const params = this.model.parameters(graph).scope('text_encoder');
      const states = blipTextModel(params, text, ids, mask, image);
      compiled = CompiledGraph.compile({ question_states: states }, this.runtime, 'blip_question_encoder');
      this.graphs.set(key, compiled);
    }
    return compiled;
  }

  async release(): Promise<void> {
    const graphs = [...this.graphs.values()];
    this.graphs.clear();
    await Promise.all(graphs.map(async (g) => (await g).release()));
  }
}
