// Image-text metrics of the D&B and A&E papers: CLIPScore, A&E's CLIP similarities, TIFA accuracy.

export { type AeImageTextScores, aeImageTextSimilarity, splitPrompt } from './aeImageText.ts';
export { type AeTextTextScore, aeTextTextSimilarity, type Captioner } from './aeTextText.ts';
export {
  CLIP_SCORE_WEIGHT,
  type ClipSimilarity,
  clipScoreOfCosine,
  clipScoreTexts,
  clipSimilarity,
  HESSEL_PREFIX,
} from './clipScore.ts';
export type { ImageEmbedder, TextEmbedder } from './embedders.ts';
export { IMAGENET_TEMPLATES } from './imagenetTemplates.ts';
export { fillTemplates, type TemplateOptions, templateEmbedding } from './templateEmbedding.ts';
export {
  type FreeFormAnswerer,
  normalizeAnswer,
  type TifaQuestion,
  type TifaRecord,
  type TifaResult,
  tifaAccuracy,
} from './tifa.ts';
export { cosine, dot, meanDirection, normalize } from './vectors.ts';
