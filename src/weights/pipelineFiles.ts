import { UserError } from '../errors.ts';
import { type PipelineComponent, SDXL_COMPONENTS } from './diffusersFolder.ts';
import { chooseWeightFiles } from './weightFiles.ts';

/**
 * What each component folder holds: a model (config.json and weights), a scheduler (its config only) or a
 * tokenizer (its .json and .txt files).
 */
const COMPONENT_KINDS: Readonly<Record<PipelineComponent, 'model' | 'scheduler' | 'tokenizer'>> = {
  text_encoder: 'model',
  text_encoder_2: 'model',
  tokenizer: 'tokenizer',
  tokenizer_2: 'tokenizer',
  unet: 'model',
  vae: 'model',
  scheduler: 'scheduler',
};

export interface PipelineFileSelection {
  /** Files to fetch as they are. */
  files: string[];
  /** Sharded-weights indexes: fetch them, then the shards their weight_map names. */
  shardIndexes: string[];
}

/**
 * Chooses, from a repository's file list, only what the pipeline runs with: model_index.json, the configs of
 * `components`, their tokenizer files and (unless `weights` is false) the safetensors weights of the requested
 * variant. Pickle weights,
 * other variants, ONNX/OpenVINO/Flax exports and unlisted components (safety checker, feature extractor, an
 * SDXL repo's single-file checkpoint and extra VAE folders) are left out.
 */
export function selectPipelineFiles(
  where: string,
  repoFiles: readonly string[],
  variant: string | undefined,
  components: readonly PipelineComponent[],
  options: { weights?: boolean } = {},
): PipelineFileSelection {
  const wanted = wantedComponents(components);
  const present = new Set(repoFiles);
  requireModelIndex(where, repoFiles);
  const configs = wanted.flatMap((c) => configFileOf(c) ?? []);
  const missingConfigs = configs.filter((path) => !present.has(path));
  if (missingConfigs.length > 0) {
    throw new UserError(
      `${where} is missing ${missingConfigs.join(', ')}: it is not a complete diffusers pipeline`,
    );
  }
  const files = ['model_index.json', ...configs];
  for (const tokenizer of wanted.filter((c) => COMPONENT_KINDS[c] === 'tokenizer')) {
    const tokenizerFiles = filesIn(repoFiles, tokenizer).filter(
      (name) => /\.(json|txt)$/.test(name) && !name.startsWith('.'),
    );
    if (tokenizerFiles.length === 0) throw new UserError(`${where} has no ${tokenizer}/ files`);
    files.push(...tokenizerFiles.map((name) => `${tokenizer}/${name}`));
  }

  const shardIndexes: string[] = [];
  if (options.weights === false) return { files, shardIndexes };
  for (const component of wanted.filter((c) => COMPONENT_KINDS[c] === 'model')) {
    const choice = chooseWeightFiles(`${where}/${component}`, filesIn(repoFiles, component), variant);
    if (choice.kind === 'single') files.push(`${component}/${choice.file}`);
    else shardIndexes.push(`${component}/${choice.index}`);
  }
  return { files, shardIndexes };
}

/** Refuses a repository without model_index.json, before anything is downloaded. */
export function requireModelIndex(where: string, repoFiles: readonly string[]): void {
  if (!repoFiles.includes('model_index.json')) {
    throw new UserError(`${where} has no model_index.json: it is not a diffusers pipeline`);
  }
}

function configFileOf(component: PipelineComponent): string | undefined {
  switch (COMPONENT_KINDS[component]) {
    case 'model':
      return `${component}/config.json`;
    case 'scheduler':
      return `${component}/scheduler_config.json`;
    case 'tokenizer':
      // Listed with the tokenizer's other files.
      return undefined;
  }
}

/** The requested components, deduplicated; a name no pipeline has is a caller's bug, not a user error. */
function wantedComponents(components: readonly PipelineComponent[]): PipelineComponent[] {
  const known: readonly string[] = SDXL_COMPONENTS;
  const unknown = components.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown pipeline components ${unknown.join(', ')} (known: ${known.join(', ')})`);
  }
  return [...new Set(components)];
}

/** Names of the files directly inside `folder` (not in its subfolders). */
function filesIn(repoFiles: readonly string[], folder: string): string[] {
  const prefix = `${folder}/`;
  return repoFiles
    .filter((path) => path.startsWith(prefix) && !path.slice(prefix.length).includes('/'))
    .map((path) => path.slice(prefix.length));
}
