/**
 * The models `dnb benchmark score` runs, behind the small interface the scoring driver needs, so the driver can
 * be tested with fakes and run with CLIP and BLIP on this project's engine.
 */
import { UserError } from '../errors.ts';
import type { TextEmbedder } from '../metrics/embedders.ts';
import { BlipCaptioner } from '../models/blip/blipCaptioner.ts';
import { BlipVqa } from '../models/blip/blipVqa.ts';
import { ClipEmbedder } from '../models/clip/clipEmbedder.ts';
import { ClipImageProcessor } from '../models/imageProcessing/clipImageProcessor.ts';
import type { RgbImage } from '../models/imageProcessing/rgbImage.ts';
import type { RuntimeOptions } from '../runtime/session.ts';
import { resolveTransformersModel } from '../weights/resolveTransformersModel.ts';
import { CachedTextEmbedder } from './scoreTextCache.ts';

/** What `--metrics` takes: `clip` scores both of A&E's image-text metrics (full prompt, minimum half). */
export const SCORE_GROUPS = ['clip', 'text-text', 'tifa'] as const;
export type ScoreGroup = (typeof SCORE_GROUPS)[number];

export interface ScoringModels {
  /** CLIP text features: templates, captions, TIFA's choices. */
  text?: TextEmbedder;
  /** CLIP image features of decoded images, one call per batch (preprocessing included). */
  imageEmbeds?: (images: readonly RgbImage[]) => Promise<Float32Array[]>;
  /** A&E's BLIP caption of an image (LAVIS base_coco settings). */
  caption?: (image: RgbImage) => Promise<string>;
  /** BLIP VQA's free-form answers to questions about one image, in order (TIFA's call). */
  answer?: (image: RgbImage, questions: readonly string[]) => Promise<string[]>;
  release(): Promise<void>;
}

/**
 * LAVIS `blip_caption` base_coco's generate defaults, which A&E's text-text metric uses: prompt "a picture of ",
 * 3 beams, max_length 30, min_length 10, no repetition penalty; the caption is the text after the prompt's length.
 */
export const AE_CAPTION_OPTIONS = {
  prefix: 'a picture of ',
  numBeams: 3,
  maxLength: 30,
  minLength: 10,
  repetitionPenalty: 1,
  prefixCut: 'characters',
} as const;

/** TIFA's `model.generate(**inputs, max_length=50)`. */
export const TIFA_VQA_MAX_LENGTH = 50;

export interface ScoringModelNames extends RuntimeOptions {
  clip?: string;
  caption?: string;
  vqa?: string;
  /** Images per CLIP graph run (default 16). */
  batch?: number;
}

/** The model each metric group needs, and which option names it. */
export function checkModelsFor(groups: readonly ScoreGroup[], names: ScoringModelNames): void {
  const need = (model: string | undefined, option: string, why: string) => {
    if (model === undefined) throw new UserError(`${why} needs ${option} MODEL`);
  };
  for (const group of groups) {
    need(names.clip, '--clip-model', `--metrics ${group}`);
    if (group === 'text-text') need(names.caption, '--caption-model', 'the text-text metric (BLIP captions)');
    if (group === 'tifa') need(names.vqa, '--vqa-model', 'TIFA (BLIP VQA answers)');
  }
}

/** Loads only the models the groups need (folders or Hub repo ids). */
export async function loadScoringModels(
  groups: readonly ScoreGroup[],
  names: ScoringModelNames,
): Promise<ScoringModels> {
  checkModelsFor(groups, names);
  const { clip: clipName, caption: captionName, vqa: vqaName, batch, ...runtime } = names;
  const releases: (() => Promise<void>)[] = [];
  const models: ScoringModels = {
    async release() {
      await Promise.all(releases.map((release) => release()));
    },
  };
  try {
    const clipFolder = await resolveTransformersModel(clipName as string, { files: 'clip' });
    const clip = await ClipEmbedder.load(clipFolder, { ...runtime, maxBatch: batch });
    releases.push(() => clip.release());
    const processor = await ClipImageProcessor.fromFolder(clipFolder);
    models.text = new CachedTextEmbedder(clip);
    models.imageEmbeds = (images) =>
      clip.embedImages(images.map((image) => processor.preprocess(image).pixelValues));
    if (groups.includes('text-text')) {
      const folder = await resolveTransformersModel(captionName as string, { files: 'blip' });
      const captioner = await BlipCaptioner.load(folder, runtime);
      releases.push(() => captioner.release());
      models.caption = async (image) => (await captioner.caption([image], AE_CAPTION_OPTIONS))[0].caption;
    }
    if (groups.includes('tifa')) {
      const folder = await resolveTransformersModel(vqaName as string, { files: 'blip' });
      const vqa = await BlipVqa.load(folder, runtime);
      releases.push(() => vqa.release());
      models.answer = async (image, questions) =>
        (await vqa.answer(image, questions, { maxLength: TIFA_VQA_MAX_LENGTH })).map((a) => a.answer);
    }
    return models;
  } catch (error) {
    await models.release();
    throw error;
  }
}
