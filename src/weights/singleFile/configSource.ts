import { UserError } from '../../errors.ts';
import { type DiffusersFolder, openDiffusersFolder } from '../diffusersFolder.ts';
import { downloadPipeline } from '../hub.ts';
import type { SnapshotDownloadOptions } from '../hubSnapshot.ts';
import { existingFolder } from '../resolveModel.ts';
import { type CheckpointFamily, familyName } from './architecture.ts';

/**
 * The diffusers repos whose configs and tokenizers a single file of each family is read with, as diffusers'
 * `from_single_file` takes them from the base model. SD 2.x: 2.1 at 768 px with v-prediction, which is what
 * diffusers 0.21.4 gives a `.safetensors` file (it picks 2-base at 512 px with epsilon only when the file's
 * `global_step` is 875000, and a safetensors file holds no global_step); a 2.x-base checkpoint needs
 * `configFrom: 'stabilityai/stable-diffusion-2-1-base'`.
 */
export const BASE_MODEL_REPOS: Readonly<Record<CheckpointFamily, string>> = {
  sd1: 'stable-diffusion-v1-5/stable-diffusion-v1-5',
  sd2: 'stabilityai/stable-diffusion-2-1',
  sdxl: 'stabilityai/stable-diffusion-xl-base-1.0',
};

const PIPELINE_CLASS: Readonly<Record<CheckpointFamily, string>> = {
  sd1: 'StableDiffusionPipeline',
  sd2: 'StableDiffusionPipeline',
  sdxl: 'StableDiffusionXLPipeline',
};

export interface ConfigSourceOptions extends SnapshotDownloadOptions {
  /**
   * Where the configs (model_index.json, unet/vae/text encoder/scheduler configs) and tokenizers come from: a
   * local diffusers folder (its weights, if any, are not read) or a Hub repo id (only its config and tokenizer
   * files are downloaded). Default: the family's base model, BASE_MODEL_REPOS.
   */
  configFrom?: string;
}

/**
 * The diffusers folder whose configs and tokenizers a single-file checkpoint of `family` is read with, checked
 * to be a pipeline of the family's class.
 */
export async function openConfigFolder(
  checkpoint: string,
  family: CheckpointFamily,
  options: ConfigSourceOptions = {},
): Promise<DiffusersFolder> {
  const { configFrom, ...hub } = options;
  const source = configFrom ?? BASE_MODEL_REPOS[family];
  const local = await existingFolder(
    source,
    'give a diffusers folder or a Hub repo id to take the configs from',
  );
  const root = local ?? (await downloadPipeline(source, { ...hub, weights: false }));
  const folder = await openDiffusersFolder(root);
  const expected = PIPELINE_CLASS[family];
  if (folder.pipelineClass !== expected) {
    throw new UserError(
      `${checkpoint} is ${familyName(family)} checkpoint, but the configs of ${source} are a ` +
        `${folder.pipelineClass}'s; give a ${expected} folder or repo to take the configs from`,
    );
  }
  return folder;
}
