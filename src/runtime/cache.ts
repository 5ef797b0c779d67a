import { createHash } from 'node:crypto';
import { link, mkdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { fileExists } from '../fileExists.ts';
import type { SerializedModel } from '../graph/onnx.ts';

/** `$DNB_CACHE_DIR`, else `$XDG_CACHE_HOME/divide-and-bind`, else `~/.cache/divide-and-bind`. */
export function defaultCacheDir(): string {
  if (process.env.DNB_CACHE_DIR) return process.env.DNB_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'divide-and-bind');
}

/**
 * Writes a compiled graph to `<cacheDir>/graphs/<key>/model.onnx` beside links to its weight files, unless it is
 * there already, and returns the model's path. ONNX Runtime resolves external data relative to the model file
 * and refuses paths that lead out of its folder (symbolic links included), hence hard links to the weights.
 * The key hashes the model bytes and each weight file's path, size and modification time, so a changed weight
 * file gives a new entry instead of stale offsets.
 */
export async function cacheModel(model: SerializedModel, cacheDir = defaultCacheDir()): Promise<string> {
  const hash = createHash('sha256').update(model.bytes);
  for (const [name, file] of model.externalFiles) {
    const info = await stat(file);
    hash.update(`\0${name}\0${file}\0${info.size}\0${info.mtimeMs}`);
  }
  const folder = join(cacheDir, 'graphs', hash.digest('hex').slice(0, 32));
  const modelPath = join(folder, 'model.onnx');
  if (await fileExists(modelPath)) return modelPath;

  // Build in a sibling folder and rename it into place, so a crash or a concurrent writer never leaves a
  // half-written entry behind.
  const staging = `${folder}.${process.pid}.${Date.now()}.tmp`;
  await mkdir(staging, { recursive: true });
  try {
    for (const [name, file] of model.externalFiles) await linkWeights(file, join(staging, name), cacheDir);
    await writeFile(join(staging, 'model.onnx'), model.bytes);
    await rename(staging, folder);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another process may have put the same entry in place first; that one is as good as ours.
    if (!(await fileExists(modelPath))) throw error;
  }
  return modelPath;
}

/** Hard-links a weights file (through any symlinks, as in the Hugging Face cache) into a cache entry. */
async function linkWeights(file: string, target: string, cacheDir: string): Promise<void> {
  try {
    await link(await realpath(file), target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EXDEV' || code === 'EPERM') {
      throw new UserError(
        `cannot hard-link ${file} into the graph cache ${cacheDir} (${code}): they must be on the same file system. ` +
          'Set DNB_CACHE_DIR to a folder on the file system that holds the model.',
      );
    }
    throw error;
  }
}
