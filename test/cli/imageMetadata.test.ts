import { describe, expect, it } from 'vitest';
import { a1111Parameters, dnbParameters, type ImageDescription } from '../../src/cli/imageMetadata.ts';
import { defaultSettings } from '../../src/guidance/settings.ts';
import { ClipTokenizer } from '../../src/models/clipTokenizer.ts';
import { selectTokens } from '../../src/prompt/index.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

const tokenizer = ClipTokenizer.fromFolder(`${FIXTURES}/tokenizer`);
const prompt = 'a purple dog and a green crown';
const base: ImageDescription = {
  prompt,
  negativePrompt: '',
  method: 'divide-bind',
  model: 'stable-diffusion-v1-5/stable-diffusion-v1-5',
  steps: 50,
  guidanceScale: 7.5,
  scheduler: 'pndm',
  height: 512,
  width: 512,
  seed: 2702,
  rng: 'cuda',
  imageIndex: 0,
  imageCount: 1,
  tokens: selectTokens(tokenizer, prompt),
  settings: defaultSettings('divide-bind'),
};

describe('A1111 parameters', () => {
  it('write the prompt, then Key: value pairs, quoting values with separators', () => {
    expect(a1111Parameters(base)).toBe(
      'a purple dog and a green crown\n' +
        'Steps: 50, Sampler: PNDM, CFG scale: 7.5, Seed: 2702, RNG: GPU, Size: 512x512, ' +
        'Model: stable-diffusion-v1-5/stable-diffusion-v1-5, Method: divide-bind, ' +
        'Tokens: "objects: 3 dog, 7 crown; attributes: 2 purple, 6 green"',
    );
  });

  it('add the negative prompt, Karras, the batch position and the latents file', () => {
    const text = a1111Parameters({
      ...base,
      negativePrompt: 'blurry',
      scheduler: 'dpm++',
      karras: true,
      seed: null,
      latentsFile: 'init.safetensors',
      imageIndex: 1,
      imageCount: 2,
      method: 'sd',
      tokens: null,
      settings: null,
    });
    expect(text.split('\n')).toEqual([
      prompt,
      'Negative prompt: blurry',
      'Steps: 50, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Initial latents: init.safetensors, Size: 512x512, ' +
        'Model: stable-diffusion-v1-5/stable-diffusion-v1-5, Batch size: 2, Batch pos: 1, Method: sd',
    ]);
  });
});

describe('dnb parameters', () => {
  it('hold the settings with thresholds as an object and seeds past 2^53 as strings', () => {
    const json = dnbParameters({ ...base, seed: 2n ** 63n });
    expect(json['seed']).toBe('9223372036854775808');
    expect(json['guidance']).toMatchObject({
      thresholds: { 0: 0.05, 10: 0.2, 20: 0.3 },
      refinementCaps: [100, 50],
    });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });
});
