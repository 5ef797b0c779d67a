import { copyFile, lstat, mkdir, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomically } from './atomicFile.ts';

/**
 * The huggingface_hub cache layout, shared with Python users:
 *   models--{org}--{name}/blobs/{etag}            file contents, named by ETag (sha256 for LFS files)
 *   models--{org}--{name}/snapshots/{commit}/...  relative symlinks into blobs/
 *   models--{org}--{name}/refs/{revision}         the commit a branch or tag pointed to
 */
export class HubRepoCache {
  readonly repoDir: string;

  constructor(
    readonly cacheDir: string,
    readonly repoId: string,
  ) {
    this.repoDir = join(cacheDir, `models--${repoId.replaceAll('/', '--')}`);
  }

  snapshotDir(commit: string): string {
    return join(this.repoDir, 'snapshots', commit);
  }

  blobPath(etag: string): string {
    return join(this.repoDir, 'blobs', etag);
  }

  /** The commit a revision resolves to locally: a commit hash itself, or the one its ref file holds. */
  async commitFor(revision: string): Promise<string | undefined> {
    if (isCommitHash(revision)) return revision;
    try {
      const commit = (await readFile(join(this.repoDir, 'refs', revision), 'utf8')).trim();
      return isCommitHash(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const path = join(this.repoDir, 'refs', revision);
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomically(path, async (handle) => void (await handle.writeFile(commit)), {
      overwrite: true,
    });
  }

  /** Whether a snapshot file exists and its blob is really there (a dangling link does not count). */
  async hasSnapshotFile(commit: string, path: string): Promise<boolean> {
    return (await stat(join(this.snapshotDir(commit), path)).catch(() => undefined))?.isFile() ?? false;
  }

  /** Points snapshots/{commit}/{path} at a blob with a relative link (a copy where links fail). */
  async linkSnapshotFile(commit: string, path: string, etag: string): Promise<void> {
    const pointer = join(this.snapshotDir(commit), path);
    const blob = this.blobPath(etag);
    await mkdir(dirname(pointer), { recursive: true });
    if (await lstat(pointer).catch(() => undefined)) await rm(pointer);
    try {
      await symlink(relative(dirname(pointer), blob), pointer);
    } catch (err) {
      // Windows without developer mode cannot make links; huggingface_hub copies there too.
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
      await copyFile(blob, pointer);
    }
  }

  /** Relative paths (with `/`) of every file present in a snapshot. */
  async listSnapshotFiles(commit: string): Promise<string[]> {
    const root = this.snapshotDir(commit);
    const found: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      for (const entry of await readdir(dir).catch(() => [] as string[])) {
        const full = join(dir, entry);
        const entryStats = await stat(full).catch(() => undefined);
        if (entryStats?.isDirectory()) await walk(full, `${prefix}${entry}/`);
        else if (entryStats?.isFile()) found.push(`${prefix}${entry}`);
      }
    };
    await walk(root, '');
    return found.sort();
  }
}

export function isCommitHash(revision: string): boolean {
  return /^[0-9a-f]{40}$/.test(revision);
}

/** Repo ids as the Hub accepts them: `name` or `org/name`, letters, digits, `-`, `_`, `.`. */
export function assertValidRepoId(repoId: string): void {
  const valid =
    /^([\w.-]+\/)?[\w.-]{1,96}$/.test(repoId) &&
    !repoId.includes('--') &&
    !repoId.includes('..') &&
    !repoId.split('/').some((part) => part.startsWith('.') || part.startsWith('-'));
  if (!valid) {
    throw new UserError(
      `"${repoId}" is neither an existing folder nor a valid Hugging Face repo id (like org/name)`,
    );
  }
}
