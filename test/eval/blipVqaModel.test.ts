import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlipDecoder } from '../../src/models/blip/blipDecoder.ts';
import { loadBlipModel } from '../../src/models/blip/blipModel.ts';
import { QuestionEncoder } from '../../src/models/blip/questionEncoder.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';

const EVAL = join(FIXTURES, 'eval');
const VQA_MODEL = join(EVAL, 'blip-vqa-tiny');
const DEC = 30522;
// The fixtures README's tolerance for hidden states and logits: 1e-4 of max |ref| (float32 vs float64 of the
// reference: 3.4e-7 for question states, 1.9e-7 for VQA logits).
const RELATIVE = 1e-4;

const cacheDir = tempDir('dnb-blip-vqa-');
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

async function vqaGolden(name: string): Promise<{ data: Float32Array; shape: number[] }> {
  const file = await openSafetensors(join(EVAL, 'golden/blip_vqa.safetensors'));
  return { data: await file.readFloat32(name), shape: [...(file.tensors.get(name)?.shape ?? [])] };
}

async function vqaIds(name: string): Promise<number[]> {
  const file = await openSafetensors(join(EVAL, 'golden/blip_vqa.safetensors'));
  return [...(await file.readTyped(name, 'I64'))].map(Number);
}

/** The first `length` positions of states [1, L', width]. */
function firstPositions(states: Float32Array, length: number, width: number): Float32Array {
  return states.subarray(0, length * width);
}

describe('BLIP VQA model on the blip-vqa-tiny fixture', () => {
  it('reproduces image_embeds, the question states and the first answer logits', async () => {
    const model = await loadBlipModel(VQA_MODEL, 'BlipForQuestionAnswering');
    const vision = await model.compileVision(1, { cacheDir });
    const questions = new QuestionEncoder(model, { cacheDir });
    const width = model.config.text.hiddenSize;
    for (const k of [0, 1, 2, 3, 4]) {
      const { image_embeds } = await vision.run({ pixel_values: await vqaGolden(`img${k}/pixel_values`) });
      // measured: 1.3e-6 of max |ref|
      expectClose(
        image_embeds.data as Float32Array,
        (await vqaGolden(`img${k}/image_embeds`)).data,
        RELATIVE,
      );
      for (const q of [0, 1, 2, 3]) {
        const ids = await vqaIds(`q${q}/input_ids`);
        const { states, length } = await questions.encode([ids], [ids.map(() => 1)], image_embeds);
        expect(length).toBe(ids.length);
        const expected = await vqaGolden(`img${k}/q${q}/question_last_hidden_state`);
        // measured: 4.2e-7 of max |ref|
        expectClose(firstPositions(states.data as Float32Array, length, width), expected.data, RELATIVE);
      }
    }
    const decoder = new BlipDecoder(model, { cacheDir });
    const { image_embeds } = await vision.run({ pixel_values: await vqaGolden('img0/pixel_values') });
    const ids = await vqaIds('q0/input_ids');
    const { states, length } = await questions.encode([ids], [ids.map(() => 1)], image_embeds);
    const cross = await decoder.crossAttention(states, [length]);
    const [logits] = await decoder.startDecoding(cross, 50).nextTokenLogits([[DEC]]);
    // measured: 2.7e-7 of max |ref|
    expectClose(logits, (await vqaGolden('img0/q0/first_step_logits')).data, RELATIVE);
    await Promise.all([vision.release(), questions.release(), decoder.release()]);
  });
});
