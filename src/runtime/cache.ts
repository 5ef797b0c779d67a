import { createHash } from 'node:crypto';
import { link, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  return writeEntry(folder, model, cacheDir);
}

/**
 * Writes `model.onnx`, the weight links and `extra` files (name → contents) into `folder` unless its model is
 * there already; returns the model's path. The entry is built in a sibling folder and renamed into place, so a
 * crash or a concurrent writer never leaves a half-written entry behind; `model.onnx` is what says an entry is
 * complete.
 */
export async function writeEntry(
  folder: string,
  model: SerializedModel,
  cacheDir: string,
  extra: Readonly<Record<string, string>> = {},
): Promise<string> {
  const modelPath = join(folder, 'model.onnx');
  if (await fileExists(modelPath)) return modelPath;
  const staging = `${folder}.${process.pid}.${Date.now()}.tmp`;
  await mkdir(staging, { recursive: true });
  try {
    for (const [name, file] of model.externalFiles) await linkWeights(file, join(staging, name), cacheDir);
    for (const [name, text] of Object.entries(extra)) await writeFile(join(staging, name), text);
    await writeFile(join(staging, 'model.onnx'), model.bytes);
    await rename(staging, folder);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another process may have put the same entry in place first; that one is as good as ours.
    if (!(await fileExists(modelPath))) throw error;
  }
  return modelPath;
}

/** What determines a graph, so that a warm start can find its compiled model without building it. */
export interface GraphKey {
  /**
   * Every file the build reads: the component's weight files and its config. Each is identified by its real
   * path, size and modification time, so a changed file gives a new entry instead of stale offsets.
   */
  readonly files: readonly string[];
  /**
   * Everything else the build depends on: shapes, dtype, method settings and the like. Plain JSON only
   * (objects, arrays, strings, finite numbers, booleans, null), compared by content with keys in any order.
   */
  readonly spec: unknown;
}

/** Where a keyed graph lives, and which earlier entries it replaces. */
export interface KeyedEntry {
  /** `<cacheDir>/graphs/k-<hash>`. */
  readonly folder: string;
  /**
   * A hash of the key without what changes over time (the code version, the files' sizes and modification
   * times): entries with the same lineage are older builds of the same graph, superseded by this one.
   */
  readonly lineage: string;
}

/**
 * The cache folder of a keyed graph: the hash of the graph's name, the key's spec, its files' identities and the
 * code version (a hash of this package's code), so an upgrade or a local edit of the model builders never reuses
 * a graph built by other code.
 */
export async function keyedEntry(name: string, key: GraphKey, cacheDir: string): Promise<KeyedEntry> {
  const what = `${name}\0${canonicalJson(key.spec)}`;
  const hash = createHash('sha256').update(`${await codeVersion()}\0${what}`);
  const lineage = createHash('sha256').update(what);
  for (const file of key.files) {
    const real = await realpath(file);
    const info = await stat(real);
    hash.update(`\0${real}\0${info.size}\0${info.mtimeMs}`);
    lineage.update(`\0${real}`);
  }
  return {
    folder: join(cacheDir, 'graphs', `k-${hash.digest('hex').slice(0, 32)}`),
    lineage: lineage.digest('hex').slice(0, 32),
  };
}

/**
 * Removes the keyed entries of `lineage` other than `keep`: builds of the same graph by older code or from
 * older weight files, which no start will ask for again. Each holds a compiled model and, with ORT's optimised
 * model, a transformed copy of its weights (gigabytes for a UNet), so without this every edit or upgrade would
 * leave one behind. A process still running on an old entry keeps working: its files stay open until it ends.
 */
export async function removeSupersededEntries(
  cacheDir: string,
  lineage: string,
  keep: string,
  lineageOf: (folder: string) => Promise<string | undefined>,
): Promise<void> {
  const graphs = join(cacheDir, 'graphs');
  const names = await readdir(graphs).catch(() => [] as string[]);
  for (const name of names) {
    const folder = join(graphs, name);
    if (!name.startsWith('k-') || name.endsWith('.tmp') || folder === keep) continue;
    if ((await lineageOf(folder)) === lineage) await rm(folder, { recursive: true, force: true });
  }
}

/** The code files this module is part of (src/ in a checkout, dist/ in the package), read once per process. */
const CODE_ROOT = fileURLToPath(new URL('../', import.meta.url));
let codeVersionPromise: Promise<string> | undefined;

/**
 * A hash of every code file of this package (their relative paths and contents). Hashing contents rather than
 * trusting a version number means a development checkout's edits invalidate its graphs too; it reads ~2 MB.
 */
export function codeVersion(): Promise<string> {
  codeVersionPromise ??= (async () => {
    const entries = await readdir(CODE_ROOT, { recursive: true, withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name))
      .map((e) => join(e.parentPath, e.name))
      .sort();
    const hash = createHash('sha256');
    for (const file of files) hash.update(`\0${relative(CODE_ROOT, file)}\0`).update(await readFile(file));
    return hash.digest('hex').slice(0, 16);
  })();
  return codeVersionPromise;
}

/** JSON with object keys sorted, so equal specs give equal keys; refuses what JSON would drop or mangle. */
export function canonicalJson(value: unknown, path = 'spec'): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${path} is ${value}, which a graph key cannot hold`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, `${path}.${k}`)}`);
    return `{${fields.join(',')}}`;
  }
  const kind = typeof value === 'object' ? (value as object).constructor?.name : typeof value;
  throw new Error(`${path} is a ${kind}; a graph key holds plain JSON only (describe it by its fields)`);
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
