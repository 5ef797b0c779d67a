import { UserError } from '../errors.ts';
import { chooseWeightFiles } from './weightFiles.ts';

/** Components whose config a Stable Diffusion pipeline reads, and where that config lives. */
const CONFIG_FILES = [
  'text_encoder/config.json',
  'unet/config.json',
  'vae/config.json',
  'scheduler/scheduler_config.json',
] as const;

const WEIGHTED_COMPONENTS = ['text_encoder', 'unet', 'vae'] as const;

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
 */
export function selectPipelineFiles(
  where: string,
  repoFiles: readonly string[],
  variant: string | undefined,
): PipelineFileSelection {
  const present = new Set(repoFiles);
  if (!present.has('model_index.json')) {
    throw new UserError(`${where} has no model_index.json: it is not a diffusers pipeline`);
  }
  const missingConfigs = CONFIG_FILES.filter((path) => !present.has(path));
  if (missingConfigs.length > 0) {
    throw new UserError(
      `${where} is missing ${missingConfigs.join(', ')}: it is not a Stable Diffusion diffusers pipeline`,
    );
  }
  const tokenizerFiles = filesIn(repoFiles, 'tokenizer').filter(
    (name) => /\.(json|txt)$/.test(name) && !name.startsWith('.'),
  );
  if (tokenizerFiles.length === 0) throw new UserError(`${where} has no tokenizer/ files`);

  const files = ['model_index.json', ...CONFIG_FILES, ...tokenizerFiles.map((name) => `tokenizer/${name}`)];
  const shardIndexes: string[] = [];
  for (const component of WEIGHTED_COMPONENTS) {
    const choice = chooseWeightFiles(`${where}/${component}`, filesIn(repoFiles, component), variant);
    if (choice.kind === 'single') files.push(`${component}/${choice.file}`);
    else shardIndexes.push(`${component}/${choice.index}`);
  }
  return { files, shardIndexes };
}

/** Names of the files directly inside `folder` (not in its subfolders). */
function filesIn(repoFiles: readonly string[], folder: string): string[] {
  const prefix = `${folder}/`;
  return repoFiles
    .filter((path) => path.startsWith(prefix) && !path.slice(prefix.length).includes('/'))
    .map((path) => path.slice(prefix.length));
}
