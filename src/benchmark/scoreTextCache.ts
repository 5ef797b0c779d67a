/**
 * A CLIP text embedder that remembers what it embedded. Every image of a prompt (methods × seeds) scores against
 * the same 80 filled templates per part, and TIFA's choices repeat across images, so without this the text
 * tower would run the same texts hundreds of times.
 */
import type { TextEmbedder } from '../metrics/embedders.ts';

export class CachedTextEmbedder implements TextEmbedder {
  private readonly cache = new Map<string, Float32Array>();

  /** `capacity`: texts kept (oldest dropped first); 20 000 embeddings of 512 floats are about 40 MB. */
  constructor(
    private readonly inner: TextEmbedder,
    private readonly capacity = 20_000,
  ) {}

  /** Texts embedded by the inner embedder so far (for tests and progress). */
  computed = 0;

  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    const missing = [...new Set(texts.filter((text) => !this.cache.has(text)))];
    if (missing.length > 0) {
      const embeds = await this.inner.embedTexts(missing);
      this.computed += missing.length;
      missing.forEach((text, i) => {
        this.cache.set(text, embeds[i]);
      });
      while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value as string);
    }
    return texts.map((text) => this.cache.get(text) as Float32Array);
  }
}
