import { UserError } from '../errors.ts';
import { SD_COMPONENTS, type SdComponent } from './diffusersFolder.ts';
import { chooseWeightFiles } from './weightFiles.ts';

/** Where each component's config lives; the tokenizer's files are listed separately. */
const CONFIG_FILES: Partial<Record<SdComponent, string>> = {
  text_encoder: 'text_encoder/config.json',
  unet: 'unet/config.json',
  vae: 'vae/config.json',
  scheduler: 'scheduler/scheduler_config.json',
};

const WEIGHTED_COMPONENTS: readonly SdComponent[] = ['text_encoder', 'unet', 'vae'];

export interface PipelineFileSelection {
  /** Files to fetch as they are. */
  files: string[];
  /** Sharded-weights indexes: fetch them, then the shards their weight_map names. */
  shardIndexes: string[];
}

/**
 * Chooses, from a repository's file list, only what the pipeline runs with: model_index.json,
 * the component configs, the tokenizer files and the safetensors weights of the requested variant.
 * Pickle weights, other variants and unused components (safety checker, feature extractor) are left out.
 * `components` narrows this to some components (model_index.json is always included).
 */
export function selectPipelineFiles(
  where: string,
  repoFiles: readonly string[],
  variant: string | undefined,
  components: readonly SdComponent[] = SD_COMPONENTS,
): PipelineFileSelection {
  const wanted = wantedComponents(components);
  const present = new Set(repoFiles);
  if (!present.has('model_index.json')) {
    throw new UserError(`${where} has no model_index.json: it is not a diffusers pipeline`);
  }
  const configs = SD_COMPONENTS.filter((c) => wanted.has(c)).flatMap((c) => CONFIG_FILES[c] ?? []);
  const missingConfigs = configs.filter((path) => !present.has(path));
  if (missingConfigs.length > 0) {
    throw new UserError(
      `${where} is missing ${missingConfigs.join(', ')}: it is not a Stable Diffusion diffusers pipeline`,
    );
  }
  const files = ['model_index.json', ...configs];
  if (wanted.has('tokenizer')) {
    const tokenizerFiles = filesIn(repoFiles, 'tokenizer').filter(
      (name) => /\.(json|txt)$/.test(name) && !name.startsWith('.'),
    );
    if (tokenizerFiles.length === 0) throw new UserError(`${where} has no tokenizer/ files`);
    files.push(...tokenizerFiles.map((name) => `tokenizer/${name}`));
  }

  const shardIndexes: string[] = [];
  for (const component of WEIGHTED_COMPONENTS.filter((c) => wanted.has(c))) {
    const choice = chooseWeightFiles(`${where}/${component}`, filesIn(repoFiles, component), variant);
    if (choice.kind === 'single') files.push(`${component}/${choice.file}`);
    else shardIndexes.push(`${component}/${choice.index}`);
  }
  return { files, shardIndexes };
}

/** The requested components as a set; a name outside SD_COMPONENTS is a caller's bug, not a user error. */
function wantedComponents(components: readonly SdComponent[]): Set<SdComponent> {
  const known: readonly string[] = SD_COMPONENTS;
  const unknown = components.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown pipeline components ${unknown.join(', ')} (known: ${known.join(', ')})`);
  }
  return new Set(components);
}

/** Names of the files directly inside `folder` (not in its subfolders). */
function filesIn(repoFiles: readonly string[], folder: string): string[] {
  const prefix = `${folder}/`;
  return repoFiles
    .filter((path) => path.startsWith(prefix) && !path.slice(prefix.length).includes('/'))
    .map((path) => path.slice(prefix.length));
}
