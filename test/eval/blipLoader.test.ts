import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlipCaptioner } from '../../src/models/blip/blipCaptioner.ts';
import { loadBlipModel } from '../../src/models/blip/blipModel.ts';
import { type BlipConfig, parseBlipConfig } from '../../src/models/blip/config.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';
import { userErrorOf } from '../helpers/userError.ts';

const EVAL = join(FIXTURES, 'eval');
const CAPTION_MODEL = join(EVAL, 'blip-caption-tiny');
const manifest = JSON.parse(readFileSync(join(EVAL, 'golden/manifest.json'), 'utf8'));
const dir = tempDir('dnb-blip-loader-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const readConfig = (folder: string) => JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));

/** The resolved transformers config (manifest.configs_resolved) in this implementation's terms. */
function resolved(key: 'caption' | 'vqa'): Omit<BlipConfig, 'architecture'> {
  const { text_config: t, vision_config: v } = manifest.configs_resolved[key];
  return {
    text: {
      vocabSize: t.vocab_size,
      hiddenSize: t.hidden_size,
      encoderHiddenSize: t.encoder_hidden_size,
      intermediateSize: t.intermediate_size,
      numHiddenLayers: t.num_hidden_layers,
      numAttentionHeads: t.num_attention_heads,
      maxPositionEmbeddings: t.max_position_embeddings,
      hiddenAct: t.hidden_act,
      layerNormEps: t.layer_norm_eps,
      bosTokenId: t.bos_token_id,
      eosTokenId: t.eos_token_id,
      padTokenId: t.pad_token_id,
      sepTokenId: t.sep_token_id,
    },
    vision: {
      hiddenSize: v.hidden_size,
      intermediateSize: v.intermediate_size,
      numHiddenLayers: v.num_hidden_layers,
      numAttentionHeads: v.num_attention_heads,
      imageSize: v.image_size,
      patchSize: v.patch_size,
      hiddenAct: v.hidden_act,
      layerNormEps: v.layer_norm_eps,
    },
  };
}

/** A copy of the tiny captioning model with its tensors changed by `edit`. */
async function editedModel(
  name: string,
  edit: (tensors: Record<string, TensorToWrite>) => void,
): Promise<string> {
  const folder = join(dir, name);
  cpSync(CAPTION_MODEL, folder, { recursive: true });
  const file = await openSafetensors(join(CAPTION_MODEL, 'model.safetensors'));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [tensorName, info] of file.tensors) {
    tensors[tensorName] = { dtype: 'F32', shape: [...info.shape], data: await file.readFloat32(tensorName) };
  }
  edit(tensors);
  await writeSafetensors(join(folder, 'model.safetensors'), tensors, { overwrite: true });
  return folder;
}

describe('BLIP config', () => {
  it.each(['caption', 'vqa'] as const)(
    'resolves the %s config.json (defaults omitted) as transformers 4.33',
    (key) => {
      const folder = join(EVAL, key === 'caption' ? 'blip-caption-tiny' : 'blip-vqa-tiny');
      const config = parseBlipConfig('config.json', readConfig(folder));
      expect(config).toEqual({
        ...resolved(key),
        architecture: manifest.configs_resolved[key].architectures[0],
      });
    },
  );

  it("takes BlipTextConfig's class defaults, 8 heads included, for an empty text_config", () => {
    const config = parseBlipConfig('config.json', { architectures: ['BlipForConditionalGeneration'] });
    expect(config.text).toMatchObject({
      hiddenSize: 768,
      numAttentionHeads: 8,
      numHiddenLayers: 12,
      vocabSize: 30524,
    });
    expect(config.vision).toMatchObject({
      hiddenSize: 768,
      numAttentionHeads: 12,
      imageSize: 384,
      patchSize: 16,
    });
  });

  it('refuses other architectures and impossible head counts', () => {
    expect(() => parseBlipConfig('c.json', { architectures: ['BlipForImageTextRetrieval'] })).toThrow(
      /c\.json: "architectures" .* not supported/,
    );
    expect(() =>
      parseBlipConfig('c.json', {
        architectures: ['BlipForQuestionAnswering'],
        text_config: { num_attention_heads: 7 },
      }),
    ).toThrow(/hidden_size 768 must be a multiple of the number of heads/);
  });
});

describe('BLIP loader', () => {
  it('ignores position_ids buffers and refuses missing or misshapen tensors, naming them', async () => {
    const withBuffers = await editedModel('buffers', (t) => {
      t['text_decoder.bert.embeddings.position_ids'] = {
        dtype: 'I64',
        shape: [1, 512],
        data: new BigInt64Array(512),
      };
    });
    await expect(loadBlipModel(withBuffers, 'BlipForConditionalGeneration')).resolves.toBeDefined();

    const missing = await editedModel('missing', (t) => {
      delete t['text_decoder.cls.predictions.decoder.weight'];
    });
    const error = await userErrorOf(loadBlipModel(missing, 'BlipForConditionalGeneration'));
    expect(error.message).toMatch(/missing 1 tensor: text_decoder\.cls\.predictions\.decoder\.weight/);

    const heads = join(dir, 'heads');
    cpSync(CAPTION_MODEL, heads, { recursive: true });
    const config = readConfig(heads);
    config.vision_config.image_size = 96; // 6×6 + 1 = 37 positions, the weights have 17
    writeFileSync(join(heads, 'config.json'), JSON.stringify(config));
    const shapeError = await userErrorOf(loadBlipModel(heads, 'BlipForConditionalGeneration'));
    expect(shapeError.message).toMatch(
      /vision_model\.embeddings\.position_embedding is \[1, 17, 40\].*expected \[1, 37, 40\]/,
    );
  });

  it('refuses a VQA config whose answer decoder could not read the question states', async () => {
    const folder = join(dir, 'vqa-widths');
    cpSync(join(EVAL, 'blip-vqa-tiny'), folder, { recursive: true });
    const config = readConfig(folder);
    config.text_config.encoder_hidden_size = 24;
    writeFileSync(join(folder, 'config.json'), JSON.stringify(config));
    const error = await userErrorOf(loadBlipModel(folder, 'BlipForQuestionAnswering'));
    expect(error.message).toMatch(/encoder_hidden_size \(24\) equal to text_config\.hidden_size \(16\)/);
  });

  it("refuses a preprocessor whose image size is not the vision model's", async () => {
    const folder = join(dir, 'preprocessor');
    cpSync(CAPTION_MODEL, folder, { recursive: true });
    const preprocessor = JSON.parse(readFileSync(join(folder, 'preprocessor_config.json'), 'utf8'));
    writeFileSync(join(folder, 'preprocessor_config.json'), JSON.stringify({ ...preprocessor, size: 32 }));
    const captioner = await BlipCaptioner.load(folder, { cacheDir: join(dir, 'cache') });
    const error = await userErrorOf(captioner.caption([join(EVAL, 'images/rgb_64x64.png')]));
    expect(error.message).toMatch(/preprocessor_config\.json makes 32×32 images, but .* takes 64×64/);
    await captioner.release();
  });
});
