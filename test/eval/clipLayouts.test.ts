import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildClipModelTensors, loadClipModel } from '../../src/models/clip/clipModel.ts';
import { parseClipConfig } from '../../src/models/clip/config.ts';
import { expectedTensors } from '../../src/models/parameterSource.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { WeightIndex } from '../../src/weights/weightIndex.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { CLIP_TINY } from './clipFixtures.ts';

// The parts of the openai hub configs that shape the model (the files also hold generic PretrainedConfig keys).
const BASE_TEXT = {
  hidden_size: 512,
  intermediate_size: 2048,
  num_attention_heads: 8,
  num_hidden_layers: 12,
  max_position_embeddings: 77,
  vocab_size: 49408,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  bos_token_id: 0,
  eos_token_id: 2,
  pad_token_id: 1,
  projection_dim: 512,
  model_type: 'clip_text_model',
};
const BASE_VISION = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_attention_heads: 12,
  num_hidden_layers: 12,
  image_size: 224,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  num_channels: 3,
  projection_dim: 512,
  model_type: 'clip_vision_model',
};
const OPENAI_CONFIGS: Record<string, Record<string, unknown>> = {
  'openai/clip-vit-base-patch32': {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: 512,
    logit_scale_init_value: 2.6592,
    text_config: BASE_TEXT,
    text_config_dict: null,
    vision_config: { ...BASE_VISION, patch_size: 32 },
    vision_config_dict: null,
  },
  'openai/clip-vit-base-patch16': {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: 512,
    logit_scale_init_value: 2.6592,
    text_config: BASE_TEXT,
    vision_config: { ...BASE_VISION, patch_size: 16 },
  },
  // This one keeps the legacy `…_config_dict` copies, which CLIPConfig lets override `…_config`.
  'openai/clip-vit-large-patch14': {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: 768,
    logit_scale_init_value: 2.6592,
    text_config: { ...BASE_TEXT, hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12 },
    text_config_dict: {
      hidden_size: 768,
      intermediate_size: 3072,
      num_attention_heads: 12,
      projection_dim: 768,
    },
    vision_config: { ...BASE_VISION, patch_size: 14 },
    vision_config_dict: {
      hidden_size: 1024,
      intermediate_size: 4096,
      num_attention_heads: 16,
      num_hidden_layers: 24,
      patch_size: 14,
      projection_dim: 768,
    },
  },
};

function layout(repo: string): Map<string, readonly number[]> {
  const config = parseClipConfig(`${repo}/config.json`, OPENAI_CONFIGS[repo]);
  return expectedTensors(new WeightIndex(repo, [], new Map()), (params) =>
    buildClipModelTensors(params, config),
  );
}

describe('CLIPModel weight layouts of the openai checkpoints (tensor recorder, no weights)', () => {
  it.each([
    ['openai/clip-vit-base-patch32', 12, 768, 32, 50, 512, 512],
    ['openai/clip-vit-base-patch16', 12, 768, 16, 197, 512, 512],
    ['openai/clip-vit-large-patch14', 24, 1024, 14, 257, 768, 768],
  ])(
    '%s: %i vision layers of width %i, patch %i, %i positions',
    (repo, layers, width, patch, positions, text, proj) => {
      const tensors = layout(repo);
      // 16 tensors per encoder layer; text: 2 embeddings, 2 final norm; vision: 3 embeddings, 2 + 2 norms;
      // two projections and logit_scale.
      expect(tensors.size).toBe(12 * 16 + 4 + layers * 16 + 7 + 3);
      expect(tensors.get('vision_model.embeddings.patch_embedding.weight')).toEqual([width, 3, patch, patch]);
      expect(tensors.has('vision_model.embeddings.patch_embedding.bias')).toBe(false);
      expect(tensors.get('vision_model.embeddings.class_embedding')).toEqual([width]);
      expect(tensors.get('vision_model.embeddings.position_embedding.weight')).toEqual([positions, width]);
      expect(tensors.get('vision_model.pre_layrnorm.weight')).toEqual([width]);
      expect(tensors.get('vision_model.post_layernorm.bias')).toEqual([width]);
      expect(tensors.get(`vision_model.encoder.layers.${layers - 1}.mlp.fc1.weight`)).toEqual([
        4 * width,
        width,
      ]);
      expect(tensors.get('text_model.embeddings.token_embedding.weight')).toEqual([49408, text]);
      expect(tensors.get('text_model.embeddings.position_embedding.weight')).toEqual([77, text]);
      expect(tensors.get('text_model.encoder.layers.11.self_attn.q_proj.weight')).toEqual([text, text]);
      expect(tensors.get('text_model.final_layer_norm.weight')).toEqual([text]);
      expect(tensors.get('text_projection.weight')).toEqual([proj, text]);
      expect(tensors.get('visual_projection.weight')).toEqual([proj, width]);
      expect(tensors.get('logit_scale')).toEqual([]);
    },
  );

  it('fills every omitted value with the CLIPTextConfig / CLIPVisionConfig / CLIPConfig default', () => {
    const config = parseClipConfig('config.json', {});
    expect(config.text).toMatchObject({
      vocabSize: 49408,
      hiddenSize: 512,
      numAttentionHeads: 8,
      numHiddenLayers: 12,
      maxPositionEmbeddings: 77,
      hiddenAct: 'quick_gelu',
      layerNormEps: 1e-5,
      bosTokenId: 49406,
      eosTokenId: 49407,
      padTokenId: 1,
    });
    expect(config.vision).toMatchObject({
      hiddenSize: 768,
      numAttentionHeads: 12,
      imageSize: 224,
      patchSize: 32,
    });
    expect(config.projectionDim).toBe(512);
    expect(config.logitScaleInitValue).toBe(2.6592);
  });
});

describe('loadClipModel errors', () => {
  const folders: string[] = [];
  afterAll(() => Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true }))));

  /** A copy of clip-tiny with its config and tensors changed. */
  async function variantOf(
    changeConfig: (config: Record<string, unknown>) => void,
    changeTensors: (tensors: Record<string, TensorToWrite>) => void = () => {},
  ): Promise<string> {
    const dir = tempDir('dnb-clip-variant-');
    folders.push(dir);
    await mkdir(dir, { recursive: true });
    for (const file of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json']) {
      await copyFile(join(CLIP_TINY, file), join(dir, file));
    }
    const config = JSON.parse(await readFile(join(CLIP_TINY, 'config.json'), 'utf8'));
    changeConfig(config);
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    const source = await openSafetensors(join(CLIP_TINY, 'model.safetensors'));
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, info] of source.tensors) {
      tensors[name] = { dtype: 'F32', shape: [...info.shape], data: await source.readFloat32(name) };
    }
    changeTensors(tensors);
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return dir;
  }

  it('names a missing folder', async () => {
    const error = await userErrorOf(loadClipModel('/nonexistent/clip'));
    expect(error.message).toBe(
      'CLIP model folder /nonexistent/clip not found (a folder with config.json and model.safetensors)',
    );
  });

  it('names the tensors a checkpoint lacks or has too many of, and ignores position_ids buffers', async () => {
    const dir = await variantOf(
      () => {},
      (tensors) => {
        delete tensors['vision_model.pre_layrnorm.bias'];
        tensors['vision_model.embeddings.position_ids'] = {
          dtype: 'F32',
          shape: [1, 10],
          data: new Float32Array(10),
        };
        tensors['vision_model.embeddings.patch_embedding.bias'] = {
          dtype: 'F32',
          shape: [48],
          data: new Float32Array(48),
        };
      },
    );
    const error = await userErrorOf(loadClipModel(dir));
    expect(error.message).toContain('missing 1 tensor: vision_model.pre_layrnorm.bias');
    expect(error.message).toContain('unexpected 1 tensor: vision_model.embeddings.patch_embedding.bias');
  });

  it('says which config value does not fit the weights', async () => {
    const dir = await variantOf((config) => {
      (config.vision_config as Record<string, unknown>).patch_size = 8;
    });
    const error = await userErrorOf(loadClipModel(dir));
    expect(error.message).toContain('wrong shape');
    expect(error.message).toContain('vision_model.embeddings.patch_embedding.weight is [48, 3, 16, 16]');
  });

  it('refuses heads that do not divide the width, naming the tower', async () => {
    const dir = await variantOf((config) => {
      (config.text_config as Record<string, unknown>).num_attention_heads = 5;
    });
    const error = await userErrorOf(loadClipModel(dir));
    expect(error.message).toMatch(
      /config\.json \(text_config\): "num_attention_heads" is 5, which is not supported/,
    );
  });
});
