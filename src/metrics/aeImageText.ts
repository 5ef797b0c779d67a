import type { TextEmbedder } from './embedders.ts';
import { type TemplateOptions, templateEmbedding } from './templateEmbedding.ts';
import { dot, normalize } from './vectors.ts';

/** One image's scores; the halves are null when the prompt has neither " and " nor " with " (A&E skips those). */
export interface AeImageTextScores {
  /** cos(image, template embedding of the whole prompt). */
  full: number;
  firstHalf: number | null;
  secondHalf: number | null;
  /** min(firstHalf, secondHalf): A&E's "minimum object similarity". */
  minHalf: number | null;
}

/**
 * A&E's split (`metrics/compute_clip_similarity.py`): at " and " if the prompt has one, else at " with "; the first
 * two parts are the halves (a third part, "a and b and c", is ignored there too). Null when neither is present.
 */
export function splitPrompt(prompt: string): [string, string] | null {
  for (const separator of [' and ', ' with ']) {
    if (prompt.includes(separator)) {
      const [first, second] = prompt.split(separator);
      return [first, second];
    }
  }
  return null;
}

/**
 * Attend & Excite's CLIP image-text similarities of images with a prompt: each image's normalised embedding ·
 * the template embedding (80 ImageNet templates, `templateEmbedding`) of the full prompt and of each half.
 */
export async function aeImageTextSimilarity(
  embedder: TextEmbedder,
  imageEmbeds: readonly ArrayLike<number>[],
  prompt: string,
  options: TemplateOptions = {},
): Promise<AeImageTextScores[]> {
  const halves = splitPrompt(prompt);
  const full = await templateEmbedding(embedder, prompt, options);
  const [first, second] = halves
    ? await Promise.all(halves.map((half) => templateEmbedding(embedder, half, options)))
    : [null, null];
  return imageEmbeds.map((embeds) => {
    const image = normalize(embeds);
    const firstHalf = first && dot(image, first);
    const secondHalf = second && dot(image, second);
    return {
      full: dot(image, full),
      firstHalf,
      secondHalf,
      minHalf: firstHalf === null || secondHalf === null ? null : Math.min(firstHalf, secondHalf),
    };
  });
}
