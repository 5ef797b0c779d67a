import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlipCaptioner,
  type CaptionOptions,
  LAVIS_CAPTION_OPTIONS,
} from '../../src/models/blip/blipCaptioner.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';

const EVAL = join(FIXTURES, 'eval');
const SPECS = join(EVAL, 'specs');

interface TensorRef {
  file: string;
  tensor: string;
}

interface CaptionSpec {
  check: string;
  model: string;
  inputs: { image: string; prefix: string | null; generate_kwargs: Record<string, number> };
  expected: {
    ids: number[];
    text: string;
    caption?: string;
    sequence_score?: number;
    image_embeds: TensorRef;
  };
  tolerance: { sequence_score_abs?: number; tensors_rel: number };
}

const specs: CaptionSpec[] = readdirSync(SPECS)
  .filter((name) => name.startsWith('blip_caption_'))
  .sort()
  .map((name) => JSON.parse(readFileSync(join(SPECS, name), 'utf8')));

/** The spec's generate kwargs as caption options; "(defaults)" means none. */
function optionsOf(spec: CaptionSpec): CaptionOptions {
  const kwargs = spec.inputs.generate_kwargs;
  const known: Record<string, keyof CaptionOptions> = {
    num_beams: 'numBeams',
    max_length: 'maxLength',
    max_new_tokens: 'maxNewTokens',
    min_length: 'minLength',
    repetition_penalty: 'repetitionPenalty',
  };
  const options: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(kwargs)) {
    if (key === '(defaults)') continue;
    const option = known[key];
    if (!option) throw new Error(`${spec.check}: unexpected generate kwarg ${key}`);
    options[option] = value;
  }
  if (spec.inputs.prefix !== null) options.prefix = spec.inputs.prefix;
  return options as CaptionOptions;
}

async function goldenTensor(ref: TensorRef): Promise<Float32Array> {
  return (await openSafetensors(join(EVAL, ref.file))).readFloat32(ref.tensor);
}

const cacheDir = tempDir('dnb-blip-caption-');
let captioner: BlipCaptioner;
beforeAll(async () => {
  captioner = await BlipCaptioner.load(join(EVAL, 'blip-caption-tiny'), { cacheDir });
});
afterAll(async () => {
  await captioner?.release();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('BLIP caption specs (greedy, beam, conditional, A&E LAVIS setting) on blip-caption-tiny', () => {
  it('has the 20 caption specs', () => {
    expect(specs).toHaveLength(20);
  });

  it.each(specs.map((spec) => [spec.check, spec] as const))('%s', async (_check, spec) => {
    expect(spec.model).toBe('blip-caption-tiny');
    const image = join(EVAL, spec.inputs.image);
    // From the image file: BlipImageProcessor then the vision model. measured: ≤ 1.1e-6 of max |ref|
    const embeds = await captioner.parts.imageEmbeds(image);
    expectClose(
      embeds.data as Float32Array,
      await goldenTensor(spec.expected.image_embeds),
      spec.tolerance.tensors_rel,
    );

    const [result] = await captioner.caption([image], optionsOf(spec));
    expect(result.tokenIds).toEqual(spec.expected.ids);
    expect(result.text).toBe(spec.expected.text);
    if (spec.expected.caption !== undefined) expect(result.caption).toBe(spec.expected.caption);
    if (spec.expected.sequence_score !== undefined) {
      // measured: ≤ 1.4e-5 (transformers' own float32 score differs from its teacher-forced float64 one by 1.1e-5)
      expect(Math.abs((result.sequenceScore as number) - spec.expected.sequence_score)).toBeLessThanOrEqual(
        spec.tolerance.sequence_score_abs as number,
      );
    } else {
      expect(result.sequenceScore).toBeUndefined();
    }
  });

  // Not among the specs: img0's runs with repetition_penalty 1.5 (manifest.blip_caption.caption_runs[0]).
  it('reproduces the repetition-penalty runs of img0 in the manifest', async () => {
    const manifest = JSON.parse(readFileSync(join(EVAL, 'golden/manifest.json'), 'utf8'));
    const runs = manifest.blip_caption.caption_runs[0];
    const image = join(EVAL, 'images/rgb_64x64.png');
    const [greedy] = await captioner.caption([image], { maxNewTokens: 20, repetitionPenalty: 1.5 });
    expect(greedy.tokenIds).toEqual(runs['greedy_repetition_penalty_1.5'].ids);
    const beam = runs['beam_repetition_penalty_1.5'];
    const [beamed] = await captioner.caption([image], {
      numBeams: 3,
      maxLength: 20,
      minLength: 5,
      repetitionPenalty: 1.5,
    });
    expect(beamed.tokenIds).toEqual(beam.ids);
    expect(beamed.text).toBe(beam.text);
  });

  it('offers the A&E LAVIS setting of the ae_lavis specs as LAVIS_CAPTION_OPTIONS', () => {
    const lavis = specs.filter((spec) => spec.check.startsWith('blip_caption_ae_lavis_'));
    expect(lavis).toHaveLength(5);
    for (const spec of lavis)
      expect({ ...optionsOf(spec), prefixCut: 'characters' }).toEqual(LAVIS_CAPTION_OPTIONS);
  });

  it('cuts the prefix by characters (LAVIS) or as decoded text', async () => {
    const image = join(EVAL, 'images/rgb_50x90.png');
    const options = { prefix: 'A Picture of ', numBeams: 3, maxLength: 30, minLength: 10 };
    const [lavis] = await captioner.caption([image], options);
    const [stripped] = await captioner.caption([image], { ...options, prefixCut: 'prefix' });
    // The typed prefix is lower-cased by the tokenizer: the same ids as the A&E spec of img2.
    expect(lavis.text).toBe('a picture ofus associationian square modelianian');
    expect(lavis.caption).toBe('s associationian square modelianian');
    expect(stripped.caption).toBe('us associationian square modelianian');
  });
});
