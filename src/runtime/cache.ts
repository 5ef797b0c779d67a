/*
 * The graph cache: `<cacheDir>/graphs/<key>/` holds `model.onnx` and its manifest `graph.json`, nothing else
 * (plus, for keyed entries on the CPU, ONNX Runtime's saved optimised model: optimizedModel.ts). The model's
 * weights stay where they are: its external data locations are relative to the weights root the manifest names,
 * and sessions load the model's bytes with that folder as ONNX Runtime's external data folder. So a read-only
 * model folder, or one on another file system, works, and deleting a model frees its space (removeStaleEntries
 * then drops the graphs that referred to it).
 */

import { createHash } from 'node:crypto';
import { constants, readdirSync, readFileSync } from 'node:fs';
import { access, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileExists } from '../fileExists.ts';
import { type SerializedModel, unreadableModelFile } from '../graph/onnx.ts';

/** `$DNB_CACHE_DIR`, else `$XDG_CACHE_HOME/divide-and-bind`, else `~/.cache/divide-and-bind`. */
export function defaultCacheDir(): string {
  if (process.env.DNB_CACHE_DIR) return process.env.DNB_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'divide-and-bind');
}

/** A file the entry depends on, as it was when the entry was written: its real path, size and modification time. */
export interface FileIdentity {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** What every entry's `graph.json` records about the weights its model reads; keyed entries add more fields. */
export interface EntryManifest {
  /** The folder the model's external data locations are relative to (`SerializedModel.weightsRoot`). */
  readonly weightsRoot?: string;
  /** The weight files the model reads, checked on a warm start and by removeStaleEntries. */
  readonly weightFiles: readonly FileIdentity[];
}

/** A cached model: where it lies and the folder its weights are read from. */
export interface CachedModel {
  readonly path: string;
  readonly weightsRoot: string | undefined;
}

export const MANIFEST = 'graph.json';

/**
 * Writes a compiled graph to `<cacheDir>/graphs/<hash>/` unless it is there already. The hash covers the model
 * bytes, the weights root and each weight file's real path, size and modification time, so a changed weight file
 * gives a new entry instead of stale offsets.
 */
export async function cacheModel(model: SerializedModel, cacheDir = defaultCacheDir()): Promise<CachedModel> {
  const hash = createHash('sha256')
    .update(model.bytes)
    .update(`\0${model.weightsRoot ?? ''}`);
  for (const file of model.weightFiles) {
    const { path, size, mtimeMs } = await fileIdentity(file);
    hash.update(`\0${path}\0${size}\0${mtimeMs}`);
  }
  const folder = join(cacheDir, 'graphs', hash.digest('hex').slice(0, 32));
  const { path } = await writeEntry(folder, model, cacheDir, {});
  return { path, weightsRoot: model.weightsRoot };
}

/**
 * Writes `model.onnx` and the manifest (the weights and `fields`) into `folder` unless its model is there
 * already; returns the model's path and the manifest. The entry is built in a sibling folder and renamed into place, so a crash or
 * a concurrent writer never leaves a half-written entry behind; `model.onnx` is what says an entry is complete.
 * A new entry is a moment to look for stale ones too (removeStaleEntries).
 */
export async function writeEntry<T extends object>(
  folder: string,
  model: SerializedModel,
  cacheDir: string,
  fields: T,
): Promise<{ path: string; manifest: T & EntryManifest }> {
  const path = join(folder, 'model.onnx');
  const manifest: T & EntryManifest = {
    ...fields,
    ...(model.weightsRoot === undefined ? {} : { weightsRoot: model.weightsRoot }),
    weightFiles: await Promise.all(model.weightFiles.map(fileIdentity)),
  };
  if (await fileExists(path)) return { path, manifest };
  const staging = `${folder}.${process.pid}.${Date.now()}.tmp`;
  await mkdir(staging, { recursive: true });
  try {
    await writeFile(join(staging, MANIFEST), `${JSON.stringify(manifest)}\n`);
    await writeFile(join(staging, 'model.onnx'), model.bytes);
    await rename(staging, folder);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    // Another process may have put the same entry in place first; that one is as good as ours.
    if (!(await fileExists(path))) throw error;
  }
  await removeStaleEntries(cacheDir);
  return { path, manifest };
}

/**
 * An entry's manifest, or undefined when the entry is missing or incomplete, or a weight file it reads is gone
 * or changed (then its model would read missing or other bytes: the caller rebuilds it).
 */
export async function readEntryManifest<T extends EntryManifest>(folder: string): Promise<T | undefined> {
  let manifest: T;
  try {
    manifest = JSON.parse(await readFile(join(folder, MANIFEST), 'utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(manifest.weightFiles) || !(await fileExists(join(folder, 'model.onnx'))))
    return undefined;
  return (await weightsUnchanged(manifest)) ? manifest : undefined;
}

/** Whether every weight file of a manifest is still there with the size and modification time it had. */
async function weightsUnchanged(manifest: EntryManifest): Promise<boolean> {
  for (const { path, size, mtimeMs } of manifest.weightFiles) {
    const info = await stat(path).catch(() => undefined);
    if (info?.size !== size || info.mtimeMs !== mtimeMs) return false;
  }
  return true;
}

/**
 * A file's identity (real path, size, modification time) for keys and manifests; a file that is gone or that this
 * user may not read is a UserError naming it (ONNX Runtime's own error would name neither file nor remedy).
 */
export async function fileIdentity(file: string): Promise<FileIdentity> {
  try {
    const path = await realpath(file);
    await access(path, constants.R_OK);
    const { size, mtimeMs } = await stat(path);
    return { path, size, mtimeMs };
  } catch (error) {
    throw unreadableModelFile(file, error);
  }
}

/**
 * Removes the entries (keyed or not) that no start can use again: those whose weight files are gone or changed,
 * with ORT's optimised copies of those weights, and those of the layout before manifests named the weights
 * (folders of `weights-<i>.safetensors` hard links, which kept a deleted model's space in use). Staging folders
 * (`.tmp`) and folders without a manifest of either layout are left alone.
 *
 * Safe against a concurrently running process: an entry goes only when the files its model reads are gone or
 * changed, so no process can create a correct session from it any more; one that already has a session keeps
 * it, because on Linux a removed file stays readable through the descriptors and mappings open on it until they
 * close. A process that finds the entry gone at its next start rebuilds it from the files it then finds.
 */
export async function removeStaleEntries(cacheDir: string): Promise<void> {
  const graphs = join(cacheDir, 'graphs');
  const names = await readdir(graphs).catch(() => [] as string[]);
  for (const name of names) {
    if (name.endsWith('.tmp')) continue;
    const folder = join(graphs, name);
    if (await isStale(folder)) await rm(folder, { recursive: true, force: true });
  }
}

const sweptCacheDirs = new Map<string, Promise<void>>();

/** removeStaleEntries once per process and cache folder: a warm start then costs one sweep, not one per graph. */
export function removeStaleEntriesOnce(cacheDir: string): Promise<void> {
  let swept = sweptCacheDirs.get(cacheDir);
  if (!swept) {
    swept = removeStaleEntries(cacheDir);
    sweptCacheDirs.set(cacheDir, swept);
  }
  return swept;
}

async function isStale(folder: string): Promise<boolean> {
  let manifest: Partial<EntryManifest> & { externalFiles?: unknown };
  try {
    manifest = JSON.parse(await readFile(join(folder, MANIFEST), 'utf8'));
  } catch {
    const files = await readdir(folder).catch(() => [] as string[]);
    return files.some((f) => /^weights-\d+\.safetensors$/.test(f));
  }
  if (manifest.externalFiles !== undefined) return true;
  return Array.isArray(manifest.weightFiles) && !(await weightsUnchanged(manifest as EntryManifest));
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
  const hash = createHash('sha256').update(`${codeVersion()}\0${what}`);
  const lineage = createHash('sha256').update(what);
  for (const file of key.files) {
    const { path, size, mtimeMs } = await fileIdentity(file);
    hash.update(`\0${path}\0${size}\0${mtimeMs}`);
    lineage.update(`\0${path}`);
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
let codeVersionHash: string | undefined;

/**
 * A hash of every code file of this package (their relative paths and contents). Hashing contents rather than
 * trusting a version number means a development checkout's edits invalidate its graphs too. It reads ~1.3 MB
 * once per process, synchronously: 25–35 ms, where reading the same files through promises took 117 ms of a
 * ~3 s warm start.
 */
export function codeVersion(): string {
  if (codeVersionHash) return codeVersionHash;
  const files = readdirSync(CODE_ROOT, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(`\0${relative(CODE_ROOT, file)}\0`).update(readFileSync(file));
  codeVersionHash = hash.digest('hex').slice(0, 16);
  return codeVersionHash;
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
