import { UserError } from '../../errors.ts';
import type { RuntimeOptions } from '../../runtime/session.ts';
import type { LoadModelOptions } from '../loadOptions.ts';
import {
  type ClipModel,
  type CompiledClipImageFeatures,
  type CompiledClipTextFeatures,
  loadClipModel,
} from './clipModel.ts';

export interface ClipEmbedderOptions extends RuntimeOptions, LoadModelOptions {
  /** The most images or texts per graph run (default 16): bounds memory; the last run is padded. */
  maxBatch?: number;
}

/**
 * CLIP's `get_text_features` / `get_image_features` for any number of texts or images: compiles the feature graphs
 * on first use, for min(count, maxBatch) rows, and runs them in batches (a short last batch is padded by repeating
 * its last row, so one graph serves every count).
 */
export class ClipEmbedder {
  private readonly runtime: RuntimeOptions;
  private readonly maxBatch: number;
  private text?: Promise<CompiledClipTextFeatures>;
  private image?: Promise<CompiledClipImageFeatures>;

  constructor(
    readonly model: ClipModel,
    { maxBatch = 16, ...runtime }: Omit<ClipEmbedderOptions, keyof LoadModelOptions> = {},
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1)
      throw new UserError(`maxBatch must be ≥ 1, got ${maxBatch}`);
    this.maxBatch = maxBatch;
    this.runtime = runtime;
  }

  static async load(folder: string, options: ClipEmbedderOptions = {}): Promise<ClipEmbedder> {
    const { variant, ...rest } = options;
    return new ClipEmbedder(await loadClipModel(folder, { variant }), rest);
  }

  /** exp of this is the factor CLIP's logits put on cosines. */
  get logitScale(): number {
    return this.model.logitScale;
  }

  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    this.text ??= this.model.compileTextFeatures({
      ...this.runtime,
      batch: Math.min(texts.length, this.maxBatch),
    });
    const compiled = await this.text;
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += compiled.batch) {
      const chunk = padded(texts.slice(start, start + compiled.batch), compiled.batch);
      const { embeds } = await compiled.run(this.model.tokenize(chunk));
      out.push(...rows(embeds.data, embeds.shape[1], Math.min(compiled.batch, texts.length - start)));
    }
    return out;
  }

  /** Pixel values [3, S, S] per image, as the CLIP image processor makes them for this model's S. */
  async embedImages(pixelValues: readonly Float32Array[]): Promise<Float32Array[]> {
    if (pixelValues.length === 0) return [];
    const { numChannels, imageSize } = this.model.config.vision;
    const size = numChannels * imageSize * imageSize;
    for (const pixels of pixelValues) {
      if (pixels.length !== size) {
        throw new UserError(
          `the CLIP model takes ${numChannels}×${imageSize}×${imageSize} pixel values per image, got ${pixels.length}; ` +
            "preprocess images with the model's own preprocessor_config.json",
        );
      }
    }
    this.image ??= this.model.compileImageFeatures({
      ...this.runtime,
      batch: Math.min(pixelValues.length, this.maxBatch),
    });
    const compiled = await this.image;
    const out: Float32Array[] = [];
    for (let start = 0; start < pixelValues.length; start += compiled.batch) {
      const chunk = padded(pixelValues.slice(start, start + compiled.batch), compiled.batch);
      const stacked = new Float32Array(compiled.batch * size);
      chunk.forEach((pixels, i) => {
        stacked.set(pixels, i * size);
      });
      const { embeds } = await compiled.run(stacked);
      out.push(...rows(embeds.data, embeds.shape[1], Math.min(compiled.batch, pixelValues.length - start)));
    }
    return out;
  }

  async release(): Promise<void> {
    const sessions = await Promise.all([this.text, this.image]);
    this.text = undefined;
    this.image = undefined;
    await Promise.all(sessions.map((session) => session?.release()));
  }
}

function padded<T>(items: readonly T[], length: number): T[] {
  return Array.from({ length }, (_, i) => items[Math.min(i, items.length - 1)]);
}

function rows(data: Float32Array, width: number, count: number): Float32Array[] {
  return Array.from({ length: count }, (_, i) => data.slice(i * width, (i + 1) * width));
}
