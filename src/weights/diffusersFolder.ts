import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { parsePythonJson } from './pythonJson.ts';
import { openComponentWeights, type WeightIndex } from './weightIndex.ts';

/** The components a Stable Diffusion pipeline runs with. */
export const SD_COMPONENTS = ['text_encoder', 'tokenizer', 'unet', 'vae', 'scheduler'] as const;

export type SdComponent = (typeof SD_COMPONENTS)[number];

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
}

/**
 * Opens a diffusers folder and checks that model_index.json lists each wanted component and its
 * folder exists. Configs and weights are read on request, by the code that interprets them.
 */
export async function openDiffusersFolder(
  root: string,
  options: { components?: readonly string[] } = {},
): Promise<DiffusersFolder> {
  const wanted = options.components ?? SD_COMPONENTS;
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

/** The component's weights; `variant` picks e.g. `diffusion_pytorch_model.fp16.safetensors`. */
export function openWeights(
  folder: DiffusersFolder,
  name: string,
  options: { variant?: string } = {},
): Promise<WeightIndex> {
  return openComponentWeights(componentOf(folder, name).dir, options);
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
  let json: unknown;
  try {
    json = parsePythonJson(text);
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserError(`${path}: expected a JSON object`);
  }
  return json as Record<string, unknown>;
}
