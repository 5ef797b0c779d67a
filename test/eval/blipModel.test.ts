import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlipDecoder } from '../../src/models/blip/blipDecoder.ts';
import { loadBlipModel } from '../../src/models/blip/blipModel.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';

const EVAL = join(FIXTURES, 'eval');
const CAPTION_MODEL = join(EVAL, 'blip-caption-tiny');
const IMAGES = [0, 1, 2, 3, 4];
const DEC = 30522;

// The fixtures README's tolerance for embeddings, hidden states and logits: 1e-4 of max |ref|
// (float32 vs float64 of the reference itself: ≤ 1.0e-6 for image embeds, 7.2e-7 for caption logits).
const RELATIVE = 1e-4;

const cacheDir = tempDir('dnb-blip-');
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

async function captionGolden(name: string): Promise<{ data: Float32Array; shape: number[] }> {
  const file = await openSafetensors(join(EVAL, 'golden/blip_caption.safetensors'));
  return { data: await file.readFloat32(name), shape: [...(file.tensors.get(name)?.shape ?? [])] };
}

describe('BLIP captioning model on the blip-caption-tiny fixture', () => {
  it('reproduces image_embeds and vision_pooled of every golden image', async () => {
    const model = await loadBlipModel(CAPTION_MODEL, 'BlipForConditionalGeneration');
    expect(model.config.text).toMatchObject({ hiddenSize: 24, numAttentionHeads: 4, layerNormEps: 1e-12 });
    const vision = await model.compileVision(1, { cacheDir });
    for (const k of IMAGES) {
      const pixels = await captionGolden(`img${k}/pixel_values`);
      const out = await vision.run({ pixel_values: pixels });
      // measured: image_embeds 1.1e-6, vision_pooled 4.8e-7 of max |ref|
      expectClose(
        out.image_embeds.data as Float32Array,
        (await captionGolden(`img${k}/image_embeds`)).data,
        RELATIVE,
      );
      expectClose(
        out.pooled.data as Float32Array,
        (await captionGolden(`img${k}/vision_pooled`)).data,
        RELATIVE,
      );
    }
    await vision.release();
  });

  it('reproduces the first-step logits and the prefix logits through the key/value cache', async () => {
    const model = await loadBlipModel(CAPTION_MODEL, 'BlipForConditionalGeneration');
    const decoder = new BlipDecoder(model, { cacheDir });
    for (const k of [0, 1]) {
      const cross = await decoder.crossAttention(await captionGolden(`img${k}/image_embeds`));
      const run = decoder.startDecoding(cross, 20);
      const [logits] = await run.nextTokenLogits([[DEC]]);
      // measured: 2.9e-7 of max |ref|
      expectClose(logits, (await captionGolden(`img${k}/first_step_logits_uncond`)).data, RELATIVE);
    }
    const ids = [
      ...(await (
        await openSafetensors(join(EVAL, 'golden/blip_caption.safetensors'))
      ).readTyped('img0/prefix_input_ids', 'I64')),
    ].map(Number);
    expect(ids).toEqual([DEC, 1037, 3861, 1997]);
    const expected = await captionGolden('img0/prefix_logits');
    const vocab = model.config.text.vocabSize;
    const cross = await decoder.crossAttention(await captionGolden('img0/image_embeds'));
    // Token by token through the cache, and all at once (a fresh run prefills the whole row).
    const stepwise = decoder.startDecoding(cross, 20);
    for (let n = 1; n <= ids.length; n++) {
      const [logits] = await stepwise.nextTokenLogits([ids.slice(0, n)]);
      // measured: 4.5e-7 of max |ref|
      expectClose(logits, expected.data.subarray((n - 1) * vocab, n * vocab), RELATIVE);
    }
    const [last] = await decoder.startDecoding(cross, 20).nextTokenLogits([ids]);
    expectClose(last, expected.data.subarray(3 * vocab), RELATIVE);
    await decoder.release();
  });

  it('reorders and extends the key/value cache for beams as recomputing each row from scratch would', async () => {
    const model = await loadBlipModel(CAPTION_MODEL, 'BlipForConditionalGeneration');
    const decoder = new BlipDecoder(model, { cacheDir });
    const cross = await decoder.crossAttention(await captionGolden('img1/image_embeds'));
    const fresh = async (rows: number[][]) => {
      const out: Float32Array[] = [];
      for (const row of rows) out.push(...(await decoder.startDecoding(cross, 20).nextTokenLogits([row])));
      return out;
    };
    const run = decoder.startDecoding(cross, 20, 3);
    // Beam search's calls: the prompt alone (run padded to 3 rows), then 3 beams of it, then reordered beams.
    const calls: [number[][], number[] | undefined][] = [
      [[[DEC, 1037]], undefined],
      [
        [
          [DEC, 1037, 2000],
          [DEC, 1037, 2001],
          [DEC, 1037, 2002],
        ],
        [0, 0, 0],
      ],
      [
        [
          [DEC, 1037, 2002, 2010],
          [DEC, 1037, 2000, 2011],
          [DEC, 1037, 2000, 2012],
        ],
        [2, 0, 0],
      ],
      // A wrong parent (row 1 does not extend row 0): that row is recomputed, not decoded from the wrong cache.
      [
        [
          [DEC, 1037, 2002, 2010, 2020],
          [DEC, 1037, 2002, 2010, 2021],
          [DEC, 1037, 2000, 2011, 2022],
        ],
        [0, 2, 1],
      ],
    ];
    for (const [rows, parents] of calls) {
      const cached = await run.nextTokenLogits(rows, parents);
      expect(cached).toHaveLength(rows.length);
      const expected = await fresh(rows);
      // Not bit-identical: 3-row and 1-row matrix products round differently. measured: 6.0e-7 of max |ref|
      for (const [r, logits] of cached.entries()) expectClose(logits, expected[r], 2e-6);
    }
    await decoder.release();
  });
});
