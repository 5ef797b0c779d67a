import { cosine } from './vectors.ts';

/** Hessel et al. (2021)'s rescaling weight w: CLIPScore = w·max(cos, 0). */
export const CLIP_SCORE_WEIGHT = 2.5;

/** The prefix `clipscore.py` puts before every candidate caption (its default `--prefix`). */
export const HESSEL_PREFIX = 'A photo depicts ';

/** CLIP-S(c, v) = w·max(cos(c, v), 0), Hessel et al. 2021, eq. 1. */
export function clipScoreOfCosine(cos: number, weight = CLIP_SCORE_WEIGHT): number {
  return weight * Math.max(cos, 0);
}

export interface ClipSimilarity {
  /** [image][text]: cosine of the image and text embeddings. */
  cosine: number[][];
  /** [image][text]: 2.5·max(cosine, 0). */
  clipScore: number[][];
  /** [image][text]: CLIPModel's logits_per_image = exp(logit_scale)·cosine (transformers does not clamp). */
  logitsPerImage: number[][];
}

/** Cosines, CLIPScores and CLIP logits of every image against every text, from raw embeddings. */
export function clipSimilarity(
  imageEmbeds: readonly ArrayLike<number>[],
  textEmbeds: readonly ArrayLike<number>[],
  logitScale: number,
): ClipSimilarity {
  const cos = imageEmbeds.map((image) => textEmbeds.map((text) => cosine(image, text)));
  const scale = Math.exp(logitScale);
  return {
    cosine: cos,
    clipScore: cos.map((row) => row.map((c) => clipScoreOfCosine(c))),
    logitsPerImage: cos.map((row) => row.map((c) => scale * c)),
  };
}

/**
 * The texts CLIPScore embeds: as given, or with `clipscore.py`'s convention of prefixing every candidate with
 * "A photo depicts " (which its published numbers use).
 */
export function clipScoreTexts(texts: readonly string[], { hesselPrefix = false } = {}): string[] {
  return hesselPrefix ? texts.map((text) => HESSEL_PREFIX + text) : [...texts];
}
