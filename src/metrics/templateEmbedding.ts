import type { TextEmbedder } from './embedders.ts';
import { IMAGENET_TEMPLATES } from './imagenetTemplates.ts';
import { meanDirection } from './vectors.ts';

export interface TemplateOptions {
  /**
   * Attend & Excite's `t.replace('a a', 'a')` then `t.replace('the a', 'a')` on each whole filled template (on by
   * default, as the published numbers were made). A plain substring replace, so it also acts inside words:
   * "a photo of a a cat" → "a photo of a cat", but also "a photo of a avocado" → "a photo of avocado" and
   * "the amber cat" → "amber cat".
   */
  replaceDoubleArticles?: boolean;
  /** The templates, `{}` where the text goes; the 80 ImageNet ones by default. */
  templates?: readonly string[];
}

/** The templates filled with `text` (Python's `template.format(text)`), with A&E's replacements unless turned off. */
export function fillTemplates(text: string, options: TemplateOptions = {}): string[] {
  const { replaceDoubleArticles = true, templates = IMAGENET_TEMPLATES } = options;
  return templates.map((template) => {
    const filled = template.replace('{}', () => text);
    return replaceDoubleArticles ? filled.replaceAll('a a', 'a').replaceAll('the a', 'a') : filled;
  });
}

/**
 * A&E's `get_embedding_for_prompt`: e = normalise(mean_t normalise(E(template_t(text)))), the zero-shot "class
 * embedding" of a text (unit length).
 */
export async function templateEmbedding(
  embedder: TextEmbedder,
  text: string,
  options: TemplateOptions = {},
): Promise<Float64Array> {
  return meanDirection(await embedder.embedTexts(fillTemplates(text, options)));
}
