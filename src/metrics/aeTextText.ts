import type { TextEmbedder } from './embedders.ts';
import { type TemplateOptions, templateEmbedding } from './templateEmbedding.ts';
import { cosine } from './vectors.ts';

/** Turns an image into a caption (BLIP in A&E's metric); injected so the metric can be tested without one. */
export type Captioner<Image> = (image: Image) => Promise<string>;

export interface AeTextTextScore {
  caption: string;
  /** cos(CLIP text embedding of the caption, template embedding of the prompt). */
  similarity: number;
}

/**
 * Attend & Excite's text-text similarity (`metrics/blip_captioning_and_clip_similarity.py`): each image is captioned,
 * and the normalised CLIP embedding of the caption (no templates) is compared with the prompt's template embedding.
 */
export async function aeTextTextSimilarity<Image>(
  embedder: TextEmbedder,
  images: readonly Image[],
  prompt: string,
  caption: Captioner<Image>,
  options: TemplateOptions = {},
): Promise<AeTextTextScore[]> {
  const promptEmbedding = await templateEmbedding(embedder, prompt, options);
  const captions: string[] = [];
  for (const image of images) captions.push(await caption(image));
  const captionEmbeds = await embedder.embedTexts(captions);
  return captions.map((text, i) => ({
    caption: text,
    similarity: cosine(captionEmbeds[i], promptEmbedding),
  }));
}
