import { UserError } from '../../errors.ts';
import type { HostTensor } from '../../runtime/session.ts';
import { decodeLimits, generate } from '../generation/index.ts';
import { type BlipImage, type BlipLoadOptions, BlipParts } from './blipParts.ts';
import { QuestionEncoder } from './questionEncoder.ts';

export interface VqaOptions {
  /** Counts every answer token, [DEC] and [SEP] included (TIFA passes 50; the model's default is 20). */
  maxLength?: number;
  maxNewTokens?: number;
  /**
   * Encode the questions as one padded batch, as `processor(images, questions, padding=True)` + `generate`
   * do, with transformers' quirk (see `BlipVqa`). Default false: each question on its own, as TIFA asks them.
   */
  together?: boolean;
}

export interface Answer {
  question: string;
  /** decode(tokenIds, skip special tokens). */
  answer: string;
  /** [DEC], the answer's ids and the final [SEP] when generated. */
  tokenIds: number[];
}

/**
 * Visual question answering with a BlipForQuestionAnswering folder (e.g. Salesforce/blip-vqa-base) as TIFA
 * calls it: the question encoder reads `[CLS] question [SEP]` cross-attending to the image, then the answer
 * decoder starts from `[[DEC]]` and decodes greedily (by default) until [SEP], cross-attending to the question
 * states.
 *
 * transformers' quirk, reproduced with `together`: `BlipForQuestionAnswering.generate` gives the answer decoder
 * an all-ones cross-attention mask, so in a padded batch a shorter question's answer also reads the states of
 * its [PAD] positions and can differ from the answer to the same question asked alone (the fixture's batch:
 * "what is this?" is answered "thus soon" in a batch and "thus school" alone).
 */
export class BlipVqa {
  private readonly questions: QuestionEncoder;

  private constructor(readonly parts: BlipParts) {
    this.questions = new QuestionEncoder(parts.model, parts.runtime);
  }

  /** Loads and checks a BlipForQuestionAnswering folder (config.json, weights, tokenizer, preprocessor). */
  static async load(dir: string, options: BlipLoadOptions = {}): Promise<BlipVqa> {
    return new BlipVqa(await BlipParts.open(dir, 'BlipForQuestionAnswering', options));
  }

  /** One answer per question about one image, in order. */
  async answer(image: BlipImage, questions: readonly string[], options: VqaOptions = {}): Promise<Answer[]> {
    for (const [i, question] of questions.entries()) {
      if (typeof question !== 'string' || question.trim() === '') {
        throw new UserError(
          `question ${i + 1} is empty: ask something about the image, e.g. "what color is the car?"`,
        );
      }
    }
    const imageEmbeds = await this.parts.imageEmbeds(image);
    const { tokenizer } = this.parts;
    const batches = options.together ? [questions] : questions.map((question) => [question]);
    const answers: Answer[] = [];
    for (const batch of batches) {
      const { inputIds, attentionMask } = tokenizer.encodeBatch([...batch], { padding: true });
      const { states, length } = await this.questions.encode(inputIds, attentionMask, imageEmbeds);
      for (const [row, question] of batch.entries()) {
        // All `length` positions, padding included: the all-ones mask of transformers' generate.
        const tokenIds = await this.decodeAnswer(rowOf(states, row), length, options);
        answers.push({ question, answer: tokenizer.decode(tokenIds, { skipSpecialTokens: true }), tokenIds });
      }
    }
    return answers;
  }

  private async decodeAnswer(
    questionStates: HostTensor,
    length: number,
    options: VqaOptions,
  ): Promise<number[]> {
    const overrides: Record<string, unknown> = {};
    if (options.maxLength !== undefined) overrides.max_length = options.maxLength;
    if (options.maxNewTokens !== undefined) overrides.max_new_tokens = options.maxNewTokens;
    const config = this.parts.generationConfig(overrides);
    const prompt = [this.parts.model.config.text.bosTokenId];
    const { decoder } = this.parts;
    const cross = await decoder.crossAttention(questionStates, [length]);
    const run = decoder.startDecoding(cross, decodeLimits(config, prompt).maxLength);
    return (await generate(run.nextTokenLogits, prompt, config)).ids;
  }

  async release(): Promise<void> {
    await Promise.all([this.questions.release(), this.parts.release()]);
  }
}

/** Row `row` of states [B, L, width] as [1, L, width]. */
function rowOf(states: HostTensor, row: number): HostTensor {
  const [, length, width] = states.shape;
  const size = length * width;
  return {
    data: (states.data as Float32Array).subarray(row * size, (row + 1) * size),
    shape: [1, length, width],
  };
}
