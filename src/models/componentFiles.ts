import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  componentOf,
  type DiffusersFolder,
  openDiffusersFolder,
  openWeights,
  readComponentConfig,
  readJsonObject,
} from '../weights/diffusersFolder.ts';
import { openComponentWeights, type WeightIndex } from '../weights/weightIndex.ts';
import type { LoadModelOptions } from './loadOptions.ts';

/** What every model loader starts from: the component's config.json and its weights. */
export interface ComponentFiles {
  readonly configPath: string;
  readonly raw: Record<string, unknown>;
  readonly weights: WeightIndex;
}

/**
 * Opens a component (`unet`, `vae`, `text_encoder`) of a diffusers pipeline folder (opened, or its path), or a
 * component folder on its own (one with config.json and no model_index.json). An opened folder may hold a
 * single-file checkpoint's weights (`openModel`), used instead of the component folder's files.
 */
export async function openComponentFiles(
  source: DiffusersFolder | string,
  component: string,
  options: LoadModelOptions = {},
): Promise<ComponentFiles> {
  if (typeof source === 'string' && !(await isFile(join(source, 'model_index.json')))) {
    const configPath = join(source, 'config.json');
    const raw = await readJsonObject(
      configPath,
      `${source}: neither a diffusers pipeline folder (model_index.json) nor a ${component} folder (config.json)`,
    );
    return { configPath, raw, weights: await openComponentWeights(source, options) };
  }
  const folder =
    typeof source === 'string' ? await openDiffusersFolder(source, { components: [component] }) : source;
  const { dir } = componentOf(folder, component);
  const raw = await readComponentConfig(folder, component);
  return {
    configPath: join(dir, 'config.json'),
    raw,
    weights: await openWeights(folder, component, options),
  };
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
