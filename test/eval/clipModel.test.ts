import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadClipModel } from '../../src/models/clip/clipModel.ts';
import { pooledTokenIndex } from '../../src/models/clip/textFeatures.ts';
import { ClipImageProcessor } from '../../src/models/imageProcessing/clipImageProcessor.ts';
import { loadRgbImage } from '../../src/models/imageProcessing/rgbImage.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { maxAbs, maxAbsDiff } from '../helpers/tensors.ts';
import { CLIP_TINY, clipGoldenFloats, clipGoldenInt64, EVAL, evalSpec, row } from './clipFixtures.ts';

const cacheDir = tempDir('dnb-clip-');
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

/** max |Δ| / max |ref|, the fixtures README's measure for states and embeddings. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  return maxAbsDiff(actual, expected) / maxAbs(expected);
}

/** img0 … img4's tensor `name`, stacked along the batch axis. */
async function stackedGolden(name: string): Promise<Float32Array> {
  const parts = await Promise.all([0, 1, 2, 3, 4].map((k) => clipGoldenFloats(`img${k}/${name}`)));
  return Float32Array.from(parts.flatMap((part) => [...part]));
}

describe('CLIPModel on clip-tiny', () => {
  it('resolves the config with transformers 4.33 class defaults for the omitted values', async () => {
    const model = await loadClipModel(CLIP_TINY);
    expect(model.config.text).toMatchObject({
      vocabSize: 49408,
      hiddenSize: 32,
      intermediateSize: 56,
      numHiddenLayers: 2,
      numAttentionHeads: 4,
      maxPositionEmbeddings: 77,
      hiddenAct: 'quick_gelu',
      layerNormEps: 1e-5,
      bosTokenId: 0,
      eosTokenId: 2,
      padTokenId: 1,
    });
    expect(model.config.vision).toMatchObject({
      hiddenSize: 48,
      intermediateSize: 96,
      numHiddenLayers: 2,
      numAttentionHeads: 4,
      numChannels: 3,
      imageSize: 48,
      patchSize: 16,
      hiddenAct: 'quick_gelu',
      layerNormEps: 1e-5,
    });
    expect(model.config.projectionDim).toBe(24);
    expect(model.config.logitScaleInitValue).toBe(2.6592);
    expect(model.logitScale).toBeCloseTo(Math.log(100), 6);
  });

  it('reproduces the vision states and image embeddings of the five golden images (batched)', async () => {
    const model = await loadClipModel(CLIP_TINY);
    const compiled = await model.compileImageFeatures({ batch: 5, hiddenStates: true, cacheDir });
    const out = await compiled.run(await stackedGolden('pixel_values'));
    await compiled.release();
    expect(out.embeds.shape).toEqual([5, 24]);
    expect(out.lastHiddenState?.shape).toEqual([5, 10, 48]);
    const errors = {
      lastHiddenState: relativeError(
        out.lastHiddenState!.data,
        await stackedGolden('vision_last_hidden_state'),
      ),
      pooled: relativeError(out.pooled!.data, await stackedGolden('vision_pooled')),
      imageEmbeds: relativeError(out.embeds.data, await stackedGolden('image_embeds')),
    };
    // Fixture README: 1e-4 of max |ref|. Measured: last_hidden_state 8.0e-7, pooled 3.7e-7, image_embeds 3.5e-7.
    expect(errors.lastHiddenState).toBeLessThan(1e-4);
    expect(errors.pooled).toBeLessThan(1e-4);
    expect(errors.imageEmbeds).toBeLessThan(1e-4);
  });

  it.each([0, 1, 2, 3, 4])(
    'clip_image_embeds_img%i: from the image file through the CLIP image processor',
    async (k) => {
      const spec = evalSpec(`clip_image_embeds_img${k}`);
      const model = await loadClipModel(join(EVAL, spec.model));
      const processor = await ClipImageProcessor.fromFolder(model.folder);
      const { pixelValues } = processor.preprocess(await loadRgbImage(join(EVAL, spec.inputs.image)));
      const compiled = await model.compileImageFeatures({ batch: 1, hiddenStates: true, cacheDir });
      const out = await compiled.run(pixelValues);
      await compiled.release();
      const { vision_pooled: pooled, image_embeds: embeds } = spec.expected.tensors;
      // Spec: rel 1e-4. Measured ≤ 4.0e-7 (the preprocessing is bit-exact, so as on the golden pixel values).
      expect(relativeError(out.pooled!.data, await clipGoldenFloats(pooled))).toBeLessThan(
        spec.tolerance.rel,
      );
      expect(relativeError(out.embeds.data, await clipGoldenFloats(embeds))).toBeLessThan(spec.tolerance.rel);
    },
  );

  it('tokenizes, pools at the first end-of-text token and reproduces the text states and embeddings', async () => {
    const model = await loadClipModel(CLIP_TINY);
    const spec = evalSpec('clip_text_embeds');
    const texts: string[] = spec.inputs.texts;
    const batch = model.tokenize(texts);
    // The golden pads to the longest text, which is 77 ids here (the 110-token text is truncated).
    expect([...batch.inputIds]).toEqual([...(await clipGoldenInt64('text/input_ids'))]);
    expect([...batch.pooledIndex]).toEqual([...(await clipGoldenInt64('text/eot_index'))]);

    const compiled = await model.compileTextFeatures({ batch: texts.length, hiddenStates: true, cacheDir });
    const out = await compiled.run(batch);
    await compiled.release();
    // The golden ran with the attention mask, which changes the states at padding positions only.
    const mask = await clipGoldenInt64('text/attention_mask');
    const unpadded = (states: ArrayLike<number>) => {
      const width = model.config.text.hiddenSize;
      return Array.from(mask.entries()).flatMap(([i, m]) => (m ? row(states, width, i) : []));
    };
    const errors = {
      lastHiddenState: relativeError(
        unpadded(out.lastHiddenState!.data),
        unpadded(await clipGoldenFloats('text/last_hidden_state')),
      ),
      pooled: relativeError(out.pooled!.data, await clipGoldenFloats('text/pooled')),
      textEmbeds: relativeError(out.embeds.data, await clipGoldenFloats('text/text_embeds')),
    };
    // Fixture README: 1e-4 of max |ref|. Measured: last_hidden_state 3.8e-7 (unpadded positions), pooled 3.2e-7, text_embeds 3.4e-7.
    expect(errors.lastHiddenState).toBeLessThan(1e-4);
    expect(errors.pooled).toBeLessThan(1e-4);
    expect(errors.textEmbeds).toBeLessThan(1e-4);
  });

  it('pools at argmax(input_ids) for the legacy eos_token_id 2, else at the first eos_token_id', () => {
    const ids = [49406, 320, 49407, 49407, 49407];
    expect(pooledTokenIndex(ids, 2)).toBe(2);
    expect(pooledTokenIndex(ids, 49407)).toBe(2);
    // Where the two rules differ: a config whose eos is not the largest id.
    expect(pooledTokenIndex([5, 9, 7, 7], 7)).toBe(2);
    expect(pooledTokenIndex([5, 9, 7, 7], 2)).toBe(1);
    // transformers' argmax over all-false is position 0.
    expect(pooledTokenIndex([5, 9], 7)).toBe(0);
  });
});
