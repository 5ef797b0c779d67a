import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { parsePythonJson } from './pythonJson.ts';
import { openComponentWeights, type WeightIndex } from './weightIndex.ts';

/** The components a Stable Diffusion (1.x, 2.x) pipeline runs with. */
export const SD_COMPONENTS = ['text_encoder', 'tokenizer', 'unet', 'vae', 'scheduler'] as const;

/**
 * The components an SDXL pipeline runs with: two tokenizers and text encoders (CLIP ViT-L and OpenCLIP
 * bigG). The refiner's, watermarker's and feature extractor's files are never needed.
 */
export const SDXL_COMPONENTS = [
  'text_encoder',
  'text_encoder_2',
  'tokenizer',
  'tokenizer_2',
  'unet',
  'vae',
  'scheduler',
] as const;

export type SdComponent = (typeof SD_COMPONENTS)[number];
export type PipelineComponent = (typeof SDXL_COMPONENTS)[number];

/** model_index.json `_class_name` -> the components that pipeline runs with. */
const PIPELINE_CLASSES: Readonly<Record<string, readonly PipelineComponent[]>> = {
  StableDiffusionPipeline: SD_COMPONENTS,
  StableDiffusionXLPipeline: SDXL_COMPONENTS,
};

/**
 * The components the pipeline of a model_index.json runs with, decided by its `_class_name`; a class this
 * program does not run (inpainting, the SDXL refiner, ...) is a UserError. `where` names the file in it.
 */
export function pipelineComponents(
  modelIndex: Record<string, unknown>,
  where = 'model_index.json',
): readonly PipelineComponent[] {
  const className = modelIndex['_class_name'];
  const known = Object.keys(PIPELINE_CLASSES).join(' and ');
  if (typeof className !== 'string') {
    throw new UserError(
      `${where}: has no "_class_name", so the pipeline it describes is unknown (this program runs ${known})`,
    );
  }
  const components = Object.hasOwn(PIPELINE_CLASSES, className) ? PIPELINE_CLASSES[className] : undefined;
  if (!components)
    throw new UserError(`${where}: ${className} is not a pipeline this program runs (it runs ${known})`);
  return components;
}

/** Config file of a component: models, schedulers and tokenizers each name theirs differently. */
const CONFIG_FILE_NAMES = ['config.json', 'scheduler_config.json', 'tokenizer_config.json'];

export interface DiffusersComponent {
  name: string;
  /** From model_index.json, e.g. `diffusers` / `UNet2DConditionModel`. */
  library: string;
  className: string;
  dir: string;
}

/** A Hugging Face diffusers pipeline folder, as `save_pretrained` writes it. */
export interface DiffusersFolder {
  root: string;
  /** model_index.json as parsed, uninterpreted. */
  modelIndex: Record<string, unknown>;
  /** `_class_name` of model_index.json, e.g. `StableDiffusionPipeline`. */
  pipelineClass: string | undefined;
  components: Map<string, DiffusersComponent>;
  /**
   * Weights held outside the component folders, by component: a single-file checkpoint's (`openSingleFile`),
   * whose configs and tokenizers come from this folder. When absent, each component folder holds its weights.
   */
  weights?: ReadonlyMap<string, WeightIndex>;
  /** The single-file checkpoint the weights come from, when they do. */
  checkpoint?: string;
}

/**
 * Opens a diffusers folder and checks that model_index.json lists each wanted component and its
 * folder exists; by default the components its pipeline class runs with (`pipelineComponents`).
 * Configs and weights are read on request, by the code that interprets them.
 */
export async function openDiffusersFolder(
  root: string,
  options: { components?: readonly string[] } = {},
): Promise<DiffusersFolder> {
  const rootStats = await stat(root).catch(() => undefined);
  if (!rootStats) {
    throw new UserError(
      `model folder ${root} not found; give a diffusers folder (with model_index.json) ` +
        'or a Hugging Face repo id such as stable-diffusion-v1-5/stable-diffusion-v1-5',
    );
  }
  if (!rootStats.isDirectory()) {
    throw new UserError(
      `${root} is a file, not a diffusers folder; single-file checkpoints are not supported: convert it ` +
        "with diffusers (`StableDiffusionPipeline.from_single_file(path).save_pretrained('OUT')`)",
    );
  }
  const indexPath = join(root, 'model_index.json');
  const modelIndex = await readJsonObject(
    indexPath,
    `${root} has no model_index.json, so it is not a diffusers pipeline folder ` +
      '(the folder that holds text_encoder/, tokenizer/, unet/, vae/ and scheduler/)',
  );
  const wanted = options.components ?? pipelineComponents(modelIndex, indexPath);

  const components = new Map<string, DiffusersComponent>();
  for (const name of wanted) {
    const entry = modelIndex[name];
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') {
      throw new UserError(`${indexPath}: does not list the "${name}" component this pipeline needs`);
    }
    const dir = join(root, name);
    const dirStats = await stat(dir).catch(() => undefined);
    if (!dirStats) {
      throw new UserError(`${root}: the "${name}" component folder is missing (model_index.json lists it)`);
    }
    if (!dirStats.isDirectory()) {
      // Seen when a symlinked folder was copied by a tool that does not keep links.
      throw new UserError(`${dir} is a file, not the "${name}" component folder (a symlink that was lost?)`);
    }
    components.set(name, { name, library: entry[0], className: entry[1], dir });
  }
  const pipelineClass = typeof modelIndex['_class_name'] === 'string' ? modelIndex['_class_name'] : undefined;
  return { root, modelIndex, pipelineClass, components };
}

export function componentOf(folder: DiffusersFolder, name: string): DiffusersComponent {
  const component = folder.components.get(name);
  if (!component) throw new UserError(`${folder.root}: the "${name}" component was not opened`);
  return component;
}

/** The component's config (config.json, scheduler_config.json or tokenizer_config.json) as parsed JSON. */
export async function readComponentConfig(
  folder: DiffusersFolder,
  name: string,
): Promise<Record<string, unknown>> {
  const { dir } = componentOf(folder, name);
  for (const fileName of CONFIG_FILE_NAMES) {
    const path = join(dir, fileName);
    if (await stat(path).catch(() => undefined)) return readJsonObject(path, `${path} not found`);
  }
  throw new UserError(`${dir}: no config file (looked for ${CONFIG_FILE_NAMES.join(', ')})`);
}

/**
 * The component's weights; `variant` picks e.g. `diffusion_pytorch_model.fp16.safetensors`. A single-file
 * checkpoint's weights are what the file holds, whatever the variant (their dtype is cast in the graph).
 */
export async function openWeights(
  folder: DiffusersFolder,
  name: string,
  options: { variant?: string } = {},
): Promise<WeightIndex> {
  const { dir } = componentOf(folder, name);
  if (!folder.weights) return openComponentWeights(dir, options);
  const held = folder.weights.get(name);
  // Never the config folder's own weights: they are not the checkpoint's.
  if (!held)
    throw new UserError(`${folder.checkpoint ?? folder.root} holds no weights of the "${name}" component`);
  return held;
}

/** A JSON object file (Python's NaN/Infinity allowed), with errors that name the file. */
export async function readJsonObject(path: string, missingMessage: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(missingMessage);
    throw new UserError(`${path}: cannot read (${(err as Error).message})`);
  }
  return parseJsonObject(text, path);
}

/** The text of a JSON object file (Python's NaN/Infinity allowed); `where` names the file in errors. */
export function parseJsonObject(text: string, where: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = parsePythonJson(text);
  } catch (err) {
    throw new UserError(`${where}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserError(`${where}: expected a JSON object`);
  }
  return json as Record<string, unknown>;
}
