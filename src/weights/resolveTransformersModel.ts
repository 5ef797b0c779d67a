import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { downloadSnapshot, type SnapshotDownloadOptions, type SnapshotFiles } from './hubSnapshot.ts';
import { existingFolder } from './resolveModel.ts';
import { chooseWeightFiles } from './weightFiles.ts';

/** Files of a model family's repository, beside config.json and the weights. */
interface WantedFile {
  /** Alternatives in order of preference: the first the repository has is fetched. */
  oneOf: readonly string[];
  optional?: boolean;
}

/** What each evaluation model reads (src/models/clip, src/models/blip and their tokenizers). */
const MODEL_FILES: Record<'clip' | 'blip', { label: string; wanted: readonly WantedFile[] }> = {
  clip: {
    label: 'CLIP',
    wanted: [
      { oneOf: ['preprocessor_config.json'] },
      { oneOf: ['vocab.json'] },
      { oneOf: ['merges.txt'] },
      { oneOf: ['tokenizer_config.json'], optional: true },
      { oneOf: ['special_tokens_map.json'], optional: true },
    ],
  },
  blip: {
    label: 'BLIP',
    wanted: [
      { oneOf: ['preprocessor_config.json'] },
      // The BERT tokenizer reads tokenizer.json when there is one, else vocab.txt with the two configs.
      { oneOf: ['tokenizer.json', 'vocab.txt'] },
      { oneOf: ['tokenizer_config.json'], optional: true },
      { oneOf: ['special_tokens_map.json'], optional: true },
      { oneOf: ['generation_config.json'], optional: true },
    ],
  },
};

export type TransformersModelFiles = 'clip' | 'blip' | readonly string[];

export interface ResolveTransformersModelOptions extends SnapshotDownloadOptions {
  /**
   * Which files a download fetches besides config.json and the weights: a model family's (`'clip'`,
   * `'blip'`), or a list of file names the repository must have.
   */
  files: TransformersModelFiles;
}

/**
 * The local folder of a transformers model (CLIP, BLIP: a Hugging Face `transformers` repository, not a
 * diffusers pipeline). A local folder is used as it is, once it is seen to hold config.json. A Hub repo id
 * downloads into the standard huggingface_hub cache only what the model reads: config.json, the
 * preprocessor and tokenizer files, and the weights, `model.safetensors` when the repository has it, else
 * `pytorch_model.bin` (sharded indexes and their shards too). Offline (HF_HUB_OFFLINE=1) the cache is used.
 */
export async function resolveTransformersModel(
  model: string,
  options: ResolveTransformersModelOptions,
): Promise<string> {
  const folder = await existingFolder(model, 'give the model folder that holds config.json and the weights');
  if (folder !== undefined) {
    if (!(await stat(join(folder, 'config.json')).catch(() => undefined))?.isFile()) {
      throw new UserError(
        `${folder} has no config.json, so it is not a transformers model folder; give the folder of the ` +
          'model (as its Hugging Face repository holds it) or its repo id',
      );
    }
    return folder;
  }
  return downloadSnapshot(model, options, {
    select: (where, repoFiles) => selectTransformersFiles(where, repoFiles, options.files),
    localAlternative: 'a local model folder',
  });
}

/**
 * Chooses, from a repository's file list, config.json, the wanted files and the weights (safetensors
 * preferred, PyTorch .bin otherwise); TensorFlow, Flax and other files are left out.
 */
export function selectTransformersFiles(
  where: string,
  repoFiles: readonly string[],
  files: TransformersModelFiles,
): SnapshotFiles {
  const topLevel = repoFiles.filter((path) => !path.includes('/'));
  const present = new Set(topLevel);
  const family = typeof files === 'string' ? MODEL_FILES[files] : undefined;
  const wanted: WantedFile[] = [
    { oneOf: ['config.json'] },
    ...(family?.wanted ?? (files as readonly string[]).map((name) => ({ oneOf: [name] }))),
  ];
  const chosen: string[] = [];
  const missing: string[] = [];
  for (const { oneOf, optional } of wanted) {
    const found = oneOf.find((name) => present.has(name));
    if (found) {
      if (!chosen.includes(found)) chosen.push(found);
    } else if (!optional) {
      missing.push(oneOf.join(' or '));
    }
  }
  if (missing.length > 0) {
    const model = family ? `a ${family.label} model` : 'this model';
    throw new UserError(
      `${where} is missing ${missing.join(', ')}, which ${model} needs` +
        (present.has('model_index.json') ? ' (it is a diffusers pipeline, not a transformers model)' : ''),
    );
  }
  const weights = chooseWeightFiles(where, topLevel, undefined);
  return weights.kind === 'single'
    ? { files: [...chosen, weights.file], shardIndexes: [] }
    : { files: chosen, shardIndexes: [weights.index] };
}
