import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { UserError } from '../errors.ts';
import { downloadPipeline, type HubDownloadOptions } from './hub.ts';

export type ResolveModelOptions = HubDownloadOptions;

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
  const path = idOrPath === '~' || idOrPath.startsWith('~/') ? join(homedir(), idOrPath.slice(1)) : idOrPath;
  const stats = await stat(path).catch(() => undefined);
  if (stats?.isDirectory()) return path;
  if (stats) throw new UserError(`${idOrPath} is a file; ${whenFile}`);
  if (looksLikePath(idOrPath)) {
    throw new UserError(`model folder ${idOrPath} not found (a repo id looks like org/name)`);
  }
  return undefined;
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
