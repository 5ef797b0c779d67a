import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { createDownloadProgress, type ProgressMode } from './downloadProgress.ts';
import { assertValidRepoId, HubRepoCache, isCommitHash } from './hubCache.ts';
import { downloadBlob } from './hubDownload.ts';
import { fetchFileMetadata, fetchRevisionInfo, HubNetworkError } from './hubHttp.ts';
import { type HubSettings, type HubSettingsOverrides, readHubSettings } from './hubSettings.ts';
import { parseShardIndex } from './weightFiles.ts';

export interface SnapshotDownloadOptions extends HubSettingsOverrides {
  /** Branch, tag or commit hash; default `main`. */
  revision?: string;
  progress?: ProgressMode;
  /** Where informational lines go (default stderr). */
  log?: (line: string) => void;
}

/** Repo paths to fetch: files as they are, and sharded-weights indexes whose shards are fetched after them. */
export interface SnapshotFiles {
  files: string[];
  shardIndexes: string[];
}

/**
 * The text of a file of the snapshot being made, fetched first when online (for choices that depend on a
 * file's contents, e.g. model_index.json's pipeline class).
 */
export type SnapshotTextReader = (file: string) => Promise<string>;

/** What a caller wants from a repository: which files, and how to say what a cached snapshot lacks. */
export interface SnapshotRequest {
  /** Chooses the files from the repository's file list (or a cached snapshot's); a UserError if some are missing. */
  select(
    where: string,
    repoFiles: readonly string[],
    readText: SnapshotTextReader,
  ): SnapshotFiles | Promise<SnapshotFiles>;
  /**
   * Checked before `select` on a cached snapshot: why its files cannot serve the request (e.g. a component
   * an earlier, narrower download skipped), in a few words, or undefined.
   */
  notInCache?(
    present: readonly string[],
    readText: SnapshotTextReader,
  ): string | undefined | Promise<string | undefined>;
  /** What to pass instead of a repo id when neither the Hub nor the cache can help, e.g. "a local diffusers folder". */
  localAlternative: string;
}

/**
 * Makes the requested files of a Hub repository available in the huggingface_hub cache and returns the
 * snapshot folder. Files already in the snapshot cost no request; offline (HF_HUB_OFFLINE=1), or when the Hub
 * cannot be reached, a cached snapshot that holds every requested file is used.
 */
export async function downloadSnapshot(
  repoId: string,
  options: SnapshotDownloadOptions,
  request: SnapshotRequest,
): Promise<string> {
  assertValidRepoId(repoId);
  const settings = readHubSettings(options);
  const revision = options.revision ?? 'main';
  const cache = new HubRepoCache(settings.cacheDir, repoId);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));

  if (settings.offline) return cachedSnapshot(cache, revision, request, 'HF_HUB_OFFLINE is set');

  let info: Awaited<ReturnType<typeof fetchRevisionInfo>>;
  try {
    info = await fetchRevisionInfo(settings, repoId, revision);
  } catch (err) {
    if (!(err instanceof HubNetworkError)) throw err;
    // Like huggingface_hub: without a network, a complete cached snapshot is good enough.
    const fallback = await cachedSnapshot(cache, revision, request, 'the Hub is unreachable').catch(
      () => undefined,
    );
    if (!fallback) throw err;
    log(`warning: ${err.summary}; using the cached snapshot ${fallback}`);
    return fallback;
  }
  await cache.writeRef(revision, info.commit);

  const where = `${repoId}@${revision}`;
  const progress = createDownloadProgress(options.progress ?? 'auto', log);
  const fetchFile = (file: string) => ensureSnapshotFile(settings, cache, info.commit, file, progress);
  const readText = async (file: string): Promise<string> => {
    if (!info.files.includes(file)) throw new UserError(`${where} has no ${file}`);
    await fetchFile(file);
    return readFile(join(cache.snapshotDir(info.commit), file), 'utf8');
  };
  const selection = await request.select(where, info.files, readText);
  for (const file of [...selection.files, ...selection.shardIndexes]) await fetchFile(file);
  for (const index of selection.shardIndexes) {
    for (const shard of await shardFiles(cache, info.commit, index)) {
      if (!info.files.includes(shard)) {
        throw new UserError(`${where}: ${index} lists ${shard}, which the repository does not have`);
      }
      await fetchFile(shard);
    }
  }
  return cache.snapshotDir(info.commit);
}

/** Links snapshots/{commit}/{file} to its blob, downloading the blob unless it is cached. */
async function ensureSnapshotFile(
  settings: HubSettings,
  cache: HubRepoCache,
  commit: string,
  file: string,
  progress: ReturnType<typeof createDownloadProgress>,
): Promise<void> {
  // A snapshot is immutable: a file present for this commit is the right file, no request needed.
  if (await cache.hasSnapshotFile(commit, file)) return;
  const target = { repoId: cache.repoId, revision: commit, file };
  const metadata = await fetchFileMetadata(settings, target);
  const blobPath = cache.blobPath(metadata.etag);
  const blobSize = (await stat(blobPath).catch(() => undefined))?.size;
  // Blobs are shared between snapshots: a file unchanged since another commit is not downloaded again.
  if (blobSize !== metadata.size) {
    await downloadBlob(
      settings,
      { url: metadata.downloadUrl, blobPath, size: metadata.size, target },
      progress,
    );
  }
  await cache.linkSnapshotFile(commit, file, metadata.etag);
}

/** Repo paths of the shards a downloaded (or cached) index names. */
async function shardFiles(cache: HubRepoCache, commit: string, index: string): Promise<string[]> {
  const path = join(cache.snapshotDir(commit), index);
  const folder = index.slice(0, index.lastIndexOf('/') + 1);
  const shards = new Set(parseShardIndex(path, await readFile(path, 'utf8')).values());
  return [...shards].sort().map((shard) => `${folder}${shard}`);
}

/** Says why a cached snapshot cannot serve a request; passed through as it is, not wrapped again. */
class NotCachedError extends UserError {}

/** The cached snapshot for a revision if it holds every requested file, else a clear error. */
async function cachedSnapshot(
  cache: HubRepoCache,
  revision: string,
  request: SnapshotRequest,
  why: string,
): Promise<string> {
  const notCached = (detail: string) =>
    new NotCachedError(
      `${cache.repoId}@${revision} is not in the Hugging Face cache ${cache.cacheDir} (${detail}) and ${why}; ` +
        `download it once with network access (unset HF_HUB_OFFLINE), or pass ${request.localAlternative}`,
    );
  const commit = await cache.commitFor(revision);
  if (!commit) {
    throw notCached(
      isCommitHash(revision) ? 'no snapshot for this commit' : `no refs/${revision} recording its commit`,
    );
  }
  const present = await cache.listSnapshotFiles(commit);
  if (present.length === 0) throw notCached(`no snapshot folder for commit ${commit}`);
  const readText = async (file: string): Promise<string> => {
    if (!present.includes(file)) throw notCached(`the snapshot of commit ${commit} holds no ${file}`);
    return readFile(join(cache.snapshotDir(commit), file), 'utf8');
  };
  const absent = await request.notInCache?.(present, readText);
  if (absent) throw notCached(`the snapshot of commit ${commit} ${absent}`);
  let selection: SnapshotFiles;
  try {
    selection = await request.select(`cached ${cache.repoId}@${revision}`, present, readText);
  } catch (err) {
    if (err instanceof NotCachedError) throw err;
    throw notCached((err as Error).message);
  }
  const shards: string[] = [];
  for (const index of selection.shardIndexes) shards.push(...(await shardFiles(cache, commit, index)));
  const missing = shards.filter((shard) => !present.includes(shard));
  if (missing.length > 0) throw notCached(`missing ${missing.join(', ')}`);
  return cache.snapshotDir(commit);
}
