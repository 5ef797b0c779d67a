import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { UserError } from '../errors.ts';
import { type DiffusersFolder, openDiffusersFolder } from './diffusersFolder.ts';
import { downloadPipeline, type HubDownloadOptions } from './hub.ts';
import { openSingleFile } from './singleFile/openSingleFile.ts';

export type ResolveModelOptions = HubDownloadOptions;

export interface OpenModelOptions extends ResolveModelOptions {
  /**
   * For a single-file checkpoint only: the diffusers folder or Hub repo id its configs and tokenizers come from
   * (only config and tokenizer files are downloaded); default the base model of the checkpoint's family.
   */
  configFrom?: string;
}

/**
 * Opens what the user named as a diffusers folder every loader accepts: a local diffusers folder, a Hub repo id
 * (downloaded into the cache), or a single-file `.safetensors` checkpoint (A1111 / Civitai, original key names)
 * whose weights are read in place, with the configs and tokenizers of `configFrom` or the family's base model.
 */
export async function openModel(idOrPath: string, options: OpenModelOptions = {}): Promise<DiffusersFolder> {
  const { configFrom, variant, components, weights, ...hub } = options;
  const path = expandHome(idOrPath);
  if ((await stat(path).catch(() => undefined))?.isFile()) {
    if (!/\.safetensors$/i.test(path)) {
      throw new UserError(
        `${idOrPath}: only .safetensors single-file checkpoints are read (a pickled .ckpt can run code when ` +
          'loaded); convert it to safetensors, or give a diffusers folder',
      );
    }
    return openSingleFile(path, { ...hub, configFrom });
  }
  if (configFrom !== undefined) {
    throw new UserError(
      `configs are taken from ${configFrom} only for a single-file checkpoint; ${idOrPath} is a diffusers ` +
        'folder or repo, which has its own',
    );
  }
  const root = await resolveModel(idOrPath, { ...hub, variant, components, weights });
  return openDiffusersFolder(root, { components });
}

/**
 * The local diffusers folder for what the user named: an existing directory is used as it is
 * (no network); anything else is a Hugging Face repo id, downloaded into (or found in) the cache.
 */
export async function resolveModel(idOrPath: string, options: ResolveModelOptions = {}): Promise<string> {
  const folder = await existingFolder(
    idOrPath,
    'give the diffusers folder that holds model_index.json (single-file checkpoints are not supported)',
  );
  return folder ?? downloadPipeline(idOrPath, options);
}

/**
 * What the user named, when it is a local folder: its path (`~` expanded); undefined when it is to be read
 * as a Hub repo id. A file, or a path-like name that does not exist, is a UserError (`whenFile` says what
 * to give instead of a file), so a typo is not sent to the Hub.
 */
export async function existingFolder(idOrPath: string, whenFile: string): Promise<string | undefined> {
  const path = expandHome(idOrPath);
  const stats = await stat(path).catch(() => undefined);
  if (stats?.isDirectory()) return path;
  if (stats) throw new UserError(`${idOrPath} is a file; ${whenFile}`);
  if (looksLikePath(idOrPath)) {
    throw new UserError(`model folder ${idOrPath} not found (a repo id looks like org/name)`);
  }
  return undefined;
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/** Paths the user clearly meant as folders, so a typo is not sent to the Hub as a repo id. */
function looksLikePath(value: string): boolean {
  return (
    isAbsolute(value) ||
    value.startsWith('.') ||
    value.startsWith('~') ||
    value.includes('\\') ||
    value.split('/').length > 2
  );
}
