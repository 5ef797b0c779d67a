import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aeImageTextSimilarity, splitPrompt } from '../../src/metrics/aeImageText.ts';
import { aeTextTextSimilarity } from '../../src/metrics/aeTextText.ts';
import { clipScoreTexts, clipSimilarity } from '../../src/metrics/clipScore.ts';
import { IMAGENET_TEMPLATES } from '../../src/metrics/imagenetTemplates.ts';
import { fillTemplates, templateEmbedding } from '../../src/metrics/templateEmbedding.ts';
import { cosine } from '../../src/metrics/vectors.ts';
import { ClipEmbedder } from '../../src/models/clip/clipEmbedder.ts';
import { embedImageFiles } from '../../src/models/clip/clipImageFiles.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { maxAbsDiff } from '../helpers/tensors.ts';
import { CLIP_TINY, clipGoldenFloats, EVAL, evalManifest, evalSpec, row } from './clipFixtures.ts';

const cacheDir = tempDir('dnb-clip-metrics-');
let embedder: ClipEmbedder;
beforeAll(async () => {
  // maxBatch 3: the five images and eight texts run in padded batches, as large inputs do.
  embedder = await ClipEmbedder.load(CLIP_TINY, { cacheDir, maxBatch: 3 });
});
afterAll(async () => {
  await embedder.release();
  await rm(cacheDir, { recursive: true, force: true });
});

/** The spec's image files, through the CLIP image processor and the vision tower. */
function embedSpecImages(images: readonly string[]): Promise<Float32Array[]> {
  return embedImageFiles(
    embedder,
    images.map((image) => join(EVAL, image)),
  );
}

function flat(matrix: number[][]): number[] {
  return matrix.flat();
}

describe('CLIPScore and CLIP logits (clip_similarity)', () => {
  it('match transformers for every image × text, with and without the "A photo depicts " prefix', async () => {
    const spec = evalSpec('clip_similarity');
    const images = await embedSpecImages(spec.inputs.images);
    const plain = clipSimilarity(images, await embedder.embedTexts(spec.inputs.texts), embedder.logitScale);
    const hessel = clipSimilarity(
      images,
      await embedder.embedTexts(clipScoreTexts(spec.inputs.texts, { hesselPrefix: true })),
      embedder.logitScale,
    );
    const errors = {
      cosine: maxAbsDiff(flat(plain.cosine), await clipGoldenFloats('cosine')),
      clipScore: maxAbsDiff(flat(plain.clipScore), await clipGoldenFloats('clip_score')),
      clipScoreHessel: maxAbsDiff(flat(hessel.clipScore), await clipGoldenFloats('clip_score_hessel')),
      logits: maxAbsDiff(flat(plain.logitsPerImage), await clipGoldenFloats('logits_per_image')),
    };
    // Spec tolerances; measured: cosine 1.3e-7, CLIPScore 3.3e-7, prefixed 3.7e-7, logits 1.8e-5.
    expect(errors.cosine).toBeLessThanOrEqual(spec.tolerance.cosine_abs);
    expect(errors.clipScore).toBeLessThanOrEqual(spec.tolerance.clip_score_abs);
    expect(errors.clipScoreHessel).toBeLessThanOrEqual(spec.tolerance.clip_score_abs);
    expect(errors.logits).toBeLessThanOrEqual(spec.tolerance.logits_abs);
    // A negative cosine scores 0, not a negative CLIPScore.
    expect(flat(plain.cosine).some((c) => c < 0)).toBe(true);
    expect(Math.min(...flat(plain.clipScore))).toBe(0);
  });

  it('gives the text-text cosines of clip_text_text', async () => {
    const spec = evalSpec('clip_text_text');
    const pairs: [string, string][] = spec.inputs.pairs;
    const embeds = await embedder.embedTexts(pairs.flat());
    const cosines = pairs.map((_, i) => cosine(embeds[2 * i], embeds[2 * i + 1]));
    // Measured 1.2e-7 (abs 1e-5 allowed).
    expect(maxAbsDiff(cosines, spec.expected.cosine)).toBeLessThanOrEqual(spec.tolerance.abs);
  });
});

describe("Attend & Excite's CLIP image-text similarity (ae_clip_metrics)", () => {
  it('fills the 80 ImageNet templates as imagenet_utils.py does, with its "a a" / "the a" replacements', () => {
    expect(IMAGENET_TEMPLATES).toHaveLength(evalManifest().clip.ae_templates_count);
    for (const entry of evalManifest().clip.ae_clip) {
      for (const [part, text] of [
        ['full', entry.prompt],
        ['first_half', entry.parts[0]],
        ['second_half', entry.parts[1]],
      ]) {
        const filled = fillTemplates(text);
        const raw = fillTemplates(text, { replaceDoubleArticles: false });
        expect(filled.slice(0, 3)).toEqual(entry[`${part}_template_texts_first3`]);
        const changed = raw.flatMap((before, i) => (before === filled[i] ? [] : [[before, filled[i]]]));
        expect(changed).toEqual(entry[`${part}_template_texts_changed_by_replace`]);
      }
    }
  });

  it('splits at " and ", else at " with "', () => {
    expect(splitPrompt('a cat and a frog')).toEqual(['a cat', 'a frog']);
    expect(splitPrompt('a man with a hat')).toEqual(['a man', 'a hat']);
    expect(splitPrompt('a man with a hat and a dog')).toEqual(['a man with a hat', 'a dog']);
    expect(splitPrompt('a lighthouse')).toBeNull();
  });

  it('reproduces the template embeddings and the full, half and min-half similarities of both prompts', async () => {
    const spec = evalSpec('ae_clip_metrics');
    const images = await embedSpecImages(spec.inputs.images);
    for (const [p, expected] of spec.expected.per_prompt.entries()) {
      expect(splitPrompt(expected.prompt)).toEqual(expected.parts);
      const scores = await aeImageTextSimilarity(embedder, images, expected.prompt);
      const sims = expected.image_similarities;
      // Spec: 1e-5 abs. Measured ≤ 9.0e-8 for every similarity.
      expect(
        maxAbsDiff(
          scores.map((s) => s.full),
          sims.full,
        ),
      ).toBeLessThanOrEqual(spec.tolerance.abs);
      expect(
        maxAbsDiff(
          scores.map((s) => s.firstHalf!),
          sims.first_half,
        ),
      ).toBeLessThanOrEqual(spec.tolerance.abs);
      expect(
        maxAbsDiff(
          scores.map((s) => s.secondHalf!),
          sims.second_half,
        ),
      ).toBeLessThanOrEqual(spec.tolerance.abs);
      expect(
        maxAbsDiff(
          scores.map((s) => s.minHalf!),
          expected.min_first_second,
        ),
      ).toBeLessThanOrEqual(spec.tolerance.abs);
      const golden = await clipGoldenFloats(`ae/p${p}/image_similarity`);
      expect(
        maxAbsDiff(
          scores.map((s) => s.full),
          row(golden, 5, 0),
        ),
      ).toBeLessThanOrEqual(spec.tolerance.abs);

      for (const [key, text] of [
        ['full', expected.prompt],
        ['first_half', expected.parts[0]],
        ['second_half', expected.parts[1]],
      ]) {
        const embedding = await templateEmbedding(embedder, text);
        // Unit vectors; measured ≤ 6.9e-8.
        expect(
          maxAbsDiff(embedding, await clipGoldenFloats(`ae/p${p}/${key}/template_embedding`)),
        ).toBeLessThan(1e-5);
      }
    }
  });

  it('changes the template embedding when the replacement quirk is turned off', async () => {
    const prompt = 'a cat and a frog';
    const quirk = await templateEmbedding(embedder, prompt);
    const literal = await templateEmbedding(embedder, prompt, { replaceDoubleArticles: false });
    expect(maxAbsDiff(quirk, await clipGoldenFloats('ae/p0/full/template_embedding'))).toBeLessThan(1e-5);
    expect(maxAbsDiff(quirk, literal)).toBeGreaterThan(1e-3);
  });
});

describe("Attend & Excite's BLIP-caption CLIP text-text similarity (ae_text_text)", () => {
  it('reproduces the similarities of the golden captions, given through an injected captioner', async () => {
    const spec = evalSpec('ae_text_text');
    const images: string[] = spec.inputs.images;
    for (const expected of spec.expected) {
      const captionOf = (image: string) => Promise.resolve(expected.captions[images.indexOf(image)]);
      const scores = await aeTextTextSimilarity(embedder, images, expected.prompt, captionOf);
      expect(scores.map((s) => s.caption)).toEqual(expected.captions);
      // Spec: 1e-5 abs; measured ≤ 1.5e-7.
      expect(
        maxAbsDiff(
          scores.map((s) => s.similarity),
          expected.text_similarities,
        ),
      ).toBeLessThanOrEqual(spec.tolerance.abs);
    }
  });
});
