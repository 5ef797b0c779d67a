import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, truncate, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { UserError } from '../errors.ts';
import type { DownloadProgress } from './downloadProgress.ts';
import {
  describeNetworkError,
  fetchFromHub,
  HubNetworkError,
  type HubTarget,
  hubResponseError,
} from './hubHttp.ts';
import { type BlobLock, lockBlob } from './hubLock.ts';
import type { HubSettings } from './hubSettings.ts';

/** Connection drops during a multi-gigabyte download are retried from where they stopped. */
const ATTEMPTS = 3;

export interface BlobDownload {
  url: string;
  blobPath: string;
  size: number;
  target: Required<HubTarget>;
}

/**
 * Downloads a file into `{blob}.incomplete`, resuming what an earlier run left there with a Range
 * request, checks the final size (and an LFS file's sha256) and only then renames it to the blob path.
 * A lock per blob (src/weights/hubLock.ts) keeps two processes that fetch the same model, on one host or
 * several sharing the cache, from writing the same partial file.
 */
export async function downloadBlob(
  settings: HubSettings,
  download: BlobDownload,
  progress: DownloadProgress,
  log?: (line: string) => void,
): Promise<void> {
  const { blobPath, size } = download;
  await mkdir(dirname(blobPath), { recursive: true });
  const lock = await lockBlob(blobPath, { log });
  try {
    // Another process may have finished it while this one waited for the lock.
    if ((await stat(blobPath).catch(() => undefined))?.size === size) return;
    await downloadLocked(settings, download, progress, lock);
  } finally {
    await lock.release();
  }
}

async function downloadLocked(
  settings: HubSettings,
  download: BlobDownload,
  progress: DownloadProgress,
  lock: BlobLock,
): Promise<void> {
  const { blobPath, size, target } = download;
  const partial = `${blobPath}.incomplete`;
  let already = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (already > size) {
    await truncate(partial, 0); // longer than the file: not a prefix of it
    already = 0;
  }
  progress.start(target.file, size, already);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await fetchInto(settings, download, partial, progress);
        break;
      } catch (err) {
        if (!(err instanceof HubNetworkError) || attempt === ATTEMPTS) throw err;
      }
    }
  } finally {
    progress.finish();
  }
  const got = (await stat(partial)).size;
  if (got !== size) {
    await unlink(partial).catch(() => {});
    throw new UserError(
      `download of ${target.file} from ${target.repoId} has the wrong size: ${got} bytes, the Hub announced ` +
        `${size}. The partial file was removed; run again to retry (a proxy or mirror may be altering files)`,
    );
  }
  // Blobs are named by the Hub's ETag; an LFS file's ETag (X-Linked-Etag) is the sha256 of its bytes, 64 hex
  // digits, while other files carry a 40-digit git blob hash, which is not checked here.
  const expected = basename(blobPath);
  if (/^[0-9a-f]{64}$/.test(expected)) {
    const actual = await sha256OfFile(partial);
    if (actual !== expected) {
      await unlink(partial).catch(() => {});
      throw new UserError(
        `download of ${target.file} from ${target.repoId} is corrupt: its sha256 is ${actual}, the Hub's ETag ` +
          `says ${expected}. The file was removed; run again to retry (a proxy or mirror may be altering files)`,
      );
    }
  }
  await lock.assertHeld();
  await rename(partial, blobPath);
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** One GET of the missing part, appended to the partial file. */
async function fetchInto(
  settings: HubSettings,
  download: BlobDownload,
  partial: string,
  progress: DownloadProgress,
): Promise<void> {
  const { url, size, target } = download;
  const already = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (already === size && size > 0) return;
  const headers: Record<string, string> = already > 0 ? { range: `bytes=${already}-` } : {};
  const response = await fetchFromHub(settings, url, { headers });
  let append = false;
  if (response.status === 206) {
    const start = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')?.[1];
    if (Number(start) !== already) {
      await response.body?.cancel();
      throw new UserError(
        `the server resumed ${target.file} at the wrong offset; delete ${partial} and retry`,
      );
    }
    append = true;
  } else if (!response.ok) {
    await response.body?.cancel();
    throw hubResponseError(settings, response, target);
  } else if (already > 0) {
    progress.advance(-already); // the server ignored the Range header and sends everything again
  }

  const handle = await open(partial, append ? 'a' : 'w');
  try {
    if (!response.body) return;
    for await (const chunk of response.body) {
      await handle.write(chunk);
      progress.advance(chunk.byteLength);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    const written = (await handle.stat()).size;
    throw new HubNetworkError(
      settings,
      err,
      `download of ${target.file} was interrupted after ${written} of ${size} bytes ` +
        `(${describeNetworkError(err)}); run again to resume from there. `,
    );
  } finally {
    await handle.close();
  }
}
