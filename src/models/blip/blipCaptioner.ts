import { UserError } from '../../errors.ts';
import { decodeLimits, generate } from '../generation/index.ts';
import { type BlipImage, type BlipLoadOptions, BlipParts } from './blipParts.ts';

/** How `caption` is cut from the decoded text when a prefix was given. */
export type PrefixCut =
  /** LAVIS `blip_caption`: `text[len(prompt):]`, a character slice (mid-word when the first piece is `##…`). */
  | 'characters'
  /** The decoded prefix removed when the text starts with it, then leading spaces; the text unchanged otherwise. */
  | 'prefix';

export interface CaptionOptions {
  /** Text the caption continues (LAVIS base_coco uses "a picture of "); none = the decoder starts from [DEC]. */
  prefix?: string;
  /** transformers' generate keyword arguments; unset ones take the model's generation defaults. */
  numBeams?: number;
  /** Counts every token: [DEC], the prefix and the generated ones. */
  maxLength?: number;
  maxNewTokens?: number;
  minLength?: number;
  repetitionPenalty?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean | 'never';
  /** Default 'characters' (LAVIS, the A&E text-text metric). */
  prefixCut?: PrefixCut;
}

/**
 * LAVIS `blip_caption` base_coco's `generate` defaults, the setting of Attend-and-Excite's BLIP-CLIP text-text
 * metric (`metrics/blip_captioning_and_clip_similarity.py`): prompt "a picture of ", 3 beams, 10 to 30 tokens,
 * no repetition penalty, the caption cut from the text by characters.
 */
export const LAVIS_CAPTION_OPTIONS: Readonly<CaptionOptions> = {
  prefix: 'a picture of ',
  numBeams: 3,
  maxLength: 30,
  minLength: 10,
  repetitionPenalty: 1,
  prefixCut: 'characters',
};

export interface Caption {
  /** The text with the prefix cut (see `PrefixCut`); the whole text without a prefix. */
  caption: string;
  /** decode(tokenIds, skip special tokens): the prefix included, [DEC] and [SEP] dropped. */
  text: string;
  /** The decoded sequence: [DEC] = 30522, the prefix's ids, the generated ids (with the final [SEP]). */
  tokenIds: number[];
  /** Beam search only: transformers' length-normalised `sequences_scores`. */
  sequenceScore?: number;
}

/** The generate keyword arguments (snake_case) of the options that are set. */
function generateKwargs(options: CaptionOptions): Record<string, unknown> {
  const pairs: [string, unknown][] = [
    ['num_beams', options.numBeams],
    ['max_length', options.maxLength],
    ['max_new_tokens', options.maxNewTokens],
    ['min_length', options.minLength],
    ['repetition_penalty', options.repetitionPenalty],
    ['length_penalty', options.lengthPenalty],
    ['early_stopping', options.earlyStopping],
  ];
  return Object.fromEntries(pairs.filter(([, value]) => value !== undefined));
}

/**
 * Image captioning with a BlipForConditionalGeneration folder (e.g. Salesforce/blip-image-captioning-base, the
 * Hub port of LAVIS `blip_caption` base_coco), as transformers 4.33's `model.generate(pixel_values, input_ids)`:
 * the decoder input is the tokenizer's `[CLS] prefix [SEP]` with position 0 overwritten by [DEC] (30522) and the
 * [SEP] dropped, or `[[DEC, eos]]` with the last token dropped (= `[[DEC]]`) without a prefix; generation stops
 * at [SEP] (sep_token_id 102, not the config's eos_token_id 2), cross-attending to the image embeds with an
 * all-ones mask.
 */
export class BlipCaptioner {
  private constructor(readonly parts: BlipParts) {}

  /** Loads and checks a BlipForConditionalGeneration folder (config.json, weights, tokenizer, preprocessor). */
  static async load(dir: string, options: BlipLoadOptions = {}): Promise<BlipCaptioner> {
    return new BlipCaptioner(await BlipParts.open(dir, 'BlipForConditionalGeneration', options));
  }

  /** The decoder's first tokens for a prefix (see the class comment). */
  decoderPrompt(prefix: string | undefined): number[] {
    const { bosTokenId } = this.parts.model.config.text;
    if (prefix === undefined) return [bosTokenId];
    const ids = this.parts.tokenizer.encode(prefix);
    ids[0] = bosTokenId;
    return ids.slice(0, -1);
  }

  /** One caption per image, in order. */
  async caption(images: readonly BlipImage[], options: CaptionOptions = {}): Promise<Caption[]> {
    const { prefix, prefixCut = 'characters' } = options;
    const prompt = this.decoderPrompt(prefix);
    const config = this.parts.generationConfig(generateKwargs(options));
    const { maxLength } = decodeLimits(config, prompt);
    const { tokenizer, decoder } = this.parts;
    const captions: Caption[] = [];
    for (const image of images) {
      const cross = await decoder.crossAttention(await this.parts.imageEmbeds(image));
      const run = decoder.startDecoding(cross, maxLength, config.numBeams);
      const { ids, sequenceScore } = await generate(run.nextTokenLogits, prompt, config);
      const text = tokenizer.decode(ids, { skipSpecialTokens: true });
      captions.push({
        caption: cutPrefix(text, prefix, prefixCut, tokenizer.decode(prompt, { skipSpecialTokens: true })),
        text,
        tokenIds: ids,
        ...(sequenceScore !== undefined && { sequenceScore }),
      });
    }
    return captions;
  }

  release(): Promise<void> {
    return this.parts.release();
  }
}

/** See `PrefixCut`; `decodedPrefix` is the prefix as the tokenizer gives it back (lower-cased, re-spaced). */
export function cutPrefix(
  text: string,
  prefix: string | undefined,
  cut: PrefixCut,
  decodedPrefix: string,
): string {
  if (prefix === undefined) return text;
  if (cut === 'characters') return text.slice(prefix.length);
  if (cut !== 'prefix') throw new UserError(`unknown prefix cut "${cut}": use 'characters' or 'prefix'`);
  return text.startsWith(decodedPrefix) ? text.slice(decodedPrefix.length).trimStart() : text;
}
