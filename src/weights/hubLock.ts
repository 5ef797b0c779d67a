import { randomBytes } from 'node:crypto';
import { link, open, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { UserError } from '../errors.ts';

/** How a blob lock is kept alive and when a waiter gives up on its holder. */
export interface LockTiming {
  /** How often a waiting process looks at the lock again. */
  pollMs: number;
  /** How often the holder sets its lock's mtime to now, so waiters on any host can see it is alive. */
  heartbeatMs: number;
  /**
   * A lock that nobody refreshed for this long, by the waiter's own clock, is taken over: 12 missed heartbeats,
   * so a loaded machine or a slow NFS server does not lose a live lock, while a holder that died on another
   * host (where its pid cannot be checked) costs a minute instead of waiting forever.
   */
  staleAfterMs: number;
}

export const DEFAULT_LOCK_TIMING: LockTiming = { pollMs: 200, heartbeatMs: 5_000, staleAfterMs: 60_000 };

export interface LockOptions {
  timing?: LockTiming;
  /** Where the line saying that a stale lock was taken over goes (stderr by default). */
  log?: (line: string) => void;
}

export interface BlobLock {
  /**
   * Throws a UserError when another process has taken the lock over (this one was stopped or frozen for longer
   * than `staleAfterMs`), so the caller does not finish a file that two processes may have written.
   */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

/** Locks this process holds, so a lock naming this very pid is told apart from one left by an earlier run. */
const heldHere = new Set<string>();

/**
 * Takes `{blob}.lock`, as huggingface_hub does per blob. The lock file holds `pid@host`, and its holder touches
 * its mtime every `heartbeatMs`. A waiter takes the lock over when its holder is known to be gone (same host,
 * no such pid: at once) or when the lock has not changed for `staleAfterMs` (any host: a shared cache on NFS,
 * containers with their own hostnames, a pid reused after a container restart), and says so in one line.
 *
 * Node has no flock() (and flock does not reach across NFS clients anyway), so the lock is a file written
 * beside it and hard-linked into place: link() fails when the lock exists, and the lock is never seen empty
 * (on filesystems without hard links, an exclusive create instead).
 * Staleness is judged by whether the lock changes while the waiter watches, never by comparing its mtime with
 * the waiter's clock, so clocks that disagree between hosts do not matter.
 */
export async function lockBlob(blobPath: string, options: LockOptions = {}): Promise<BlobLock> {
  const timing = options.timing ?? DEFAULT_LOCK_TIMING;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lockPath = `${blobPath}.lock`;
  const owner = `${process.pid}@${hostname()}`;
  const mine = `${lockPath}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(mine, owner).catch((error: unknown) => {
    throw lockError(lockPath, error);
  });
  let watched: { seen: LockState; sinceMs: number } | undefined;
  try {
    for (;;) {
      const ino = await createLock(mine, lockPath, owner);
      if (ino !== undefined) {
        heldHere.add(lockPath);
        return holdLock(lockPath, ino, timing);
      }
      const seen = await lookAtLock(lockPath);
      if (!seen) continue; // released in between: try again at once
      if (!watched || !sameState(watched.seen, seen)) watched = { seen, sinceMs: performance.now() };
      const reason = staleReason(lockPath, seen.content, performance.now() - watched.sinceMs, timing);
      if (reason && (await removeStaleLock(lockPath, seen))) {
        log(`taking over the download lock ${lockPath} held by ${describeHolder(seen.content)}: ${reason}`);
        watched = undefined;
        continue;
      }
      // Also when removing a stale lock failed (refreshed meanwhile, or not ours to rename): no busy loop.
      await new Promise((done) => setTimeout(done, timing.pollMs));
    }
  } finally {
    await unlink(mine).catch(() => {});
  }
}

/** Keeps a taken lock alive until it is released; the lock is recognised by its inode, not by its path. */
function holdLock(lockPath: string, ino: number, timing: LockTiming): BlobLock {
  const isMine = async () => (await stat(lockPath).catch(() => undefined))?.ino === ino;
  let lost = false;
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  const beat = async () => {
    if (!(await isMine())) lost = true;
    else {
      const now = new Date();
      await utimes(lockPath, now, now).catch(() => {});
    }
    if (!released) schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => void beat(), timing.heartbeatMs);
    timer.unref(); // a heartbeat never keeps the process alive on its own
  };
  schedule();
  return {
    async assertHeld() {
      if (lost || !(await isMine())) {
        throw new UserError(
          `another process took over the download lock ${lockPath} while this one did not refresh it for ` +
            `${timing.staleAfterMs / 1000} s (was it suspended?); this process leaves the file to that one: run again to use it`,
        );
      }
    },
    async release() {
      released = true;
      clearTimeout(timer);
      heldHere.delete(lockPath);
      // Only our own lock: one taken over meanwhile belongs to its new holder.
      if (await isMine()) await unlink(lockPath).catch(() => {});
    },
  };
}

/** What link() answers on filesystems without hard links (FAT, exFAT, some FUSE and SMB mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Creates the lock unless it exists: returns its inode, or undefined while another process holds it. */
async function createLock(mine: string, lockPath: string, owner: string): Promise<number | undefined> {
  try {
    await link(mine, lockPath);
    return (await stat(mine)).ino;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return undefined;
    if (!NO_HARD_LINKS.has(code)) throw lockError(lockPath, error);
  }
  // Without hard links, an exclusive create: the lock is empty for a moment, and a waiter that sees it empty
  // simply waits on its heartbeat as on any other.
  const handle = await open(lockPath, 'wx').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') return undefined;
    throw lockError(lockPath, error);
  });
  if (!handle) return undefined;
  try {
    await handle.writeFile(owner);
    return (await handle.stat()).ino;
  } finally {
    await handle.close();
  }
}

function lockError(lockPath: string, error: unknown): UserError {
  const { code, message } = error as NodeJS.ErrnoException;
  return new UserError(
    `cannot create the download lock ${lockPath} (${code ?? message}); the Hub cache must be a folder this ` +
      'user can write (set HF_HUB_CACHE or HF_HOME to another one)',
  );
}

interface LockState {
  content: string;
  ino: number;
  mtimeMs: number;
}

/**
 * Opens the lock to look at it: opening makes an NFS client fetch fresh attributes (close-to-open consistency),
 * where a bare stat() may answer from a cache up to a minute old and miss the holder's heartbeats.
 */
async function lookAtLock(lockPath: string): Promise<LockState | undefined> {
  const handle = await open(lockPath, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const { ino, mtimeMs } = await handle.stat();
    return { content: await handle.readFile('utf8'), ino, mtimeMs };
  } finally {
    await handle.close();
  }
}

function sameState(a: LockState, b: LockState): boolean {
  return a.content === b.content && a.ino === b.ino && a.mtimeMs === b.mtimeMs;
}

/** Why the lock can be taken over, or undefined while its holder may still be at work. */
function staleReason(
  lockPath: string,
  content: string,
  unchangedMs: number,
  timing: LockTiming,
): string | undefined {
  const match = /^(\d+)@(.*)$/.exec(content);
  if (match && match[2] === hostname()) {
    const pid = Number(match[1]);
    if (pid === process.pid && !heldHere.has(lockPath)) {
      return 'that is this process id, so an earlier process left it (a restarted container reuses pids)';
    }
    if (!isAlive(pid)) return `process ${pid} is gone (killed mid-download?)`;
  }
  if (unchangedMs >= timing.staleAfterMs) {
    return (
      `it was not refreshed for ${Math.round(unchangedMs / 1000)} s (a live download refreshes it every ` +
      `${timing.heartbeatMs / 1000} s), so its process has stopped`
    );
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, someone else's
  }
}

function describeHolder(content: string): string {
  const match = /^(\d+)@(.*)$/.exec(content);
  return match ? `process ${match[1]} on ${JSON.stringify(match[2])}` : 'an unknown process';
}

/**
 * Moves the lock away and deletes it, unless what was moved is no longer the lock judged stale (another
 * process took it over in between, or its holder refreshed it): that one is linked back into place.
 */
async function removeStaleLock(lockPath: string, stale: LockState): Promise<boolean> {
  const moved = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  const renamed = await rename(lockPath, moved).then(
    () => true,
    () => false,
  );
  if (!renamed) return false;
  const now = await lookAtLock(moved);
  const removed = now !== undefined && sameState(now, stale);
  if (!removed) await link(moved, lockPath).catch(() => {});
  await unlink(moved).catch(() => {});
  return removed;
}
