import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lockBlob } from '../../src/weights/hubLock.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { useTempDirs } from './tempDir.ts';

// link() as a filesystem without hard links answers it (FAT, exFAT, some FUSE and SMB mounts), while enabled.
const noHardLinks = { on: false, refused: 0 };
vi.mock('node:fs/promises', async (original) => {
  const actual = await original<typeof import('node:fs/promises')>();
  const link: typeof actual.link = (from, to) => {
    if (!noHardLinks.on) return actual.link(from, to);
    noHardLinks.refused++;
    return Promise.reject(
      Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' }),
    );
  };
  return { ...actual, default: { ...actual, link }, link };
});

const tempDir = useTempDirs();
const TIMING = { pollMs: 20, heartbeatMs: 100, staleAfterMs: 2_000 };
afterEach(() => {
  noHardLinks.on = false;
});

async function blobIn(): Promise<string> {
  const blobs = join(await tempDir(), 'blobs');
  await mkdir(blobs);
  return join(blobs, 'b'.repeat(64));
}

describe('the download lock on unusual filesystems', () => {
  it('works without hard links: an exclusive create, still exclusive and still taken over when stale', async () => {
    noHardLinks.on = true;
    const blob = await blobIn();
    const first = await lockBlob(blob, { timing: TIMING });
    expect(noHardLinks.refused).toBe(1); // the lock module met the refusal and created the lock another way
    expect(await readFile(`${blob}.lock`, 'utf8')).toBe(`${process.pid}@${hostname()}`);
    let secondTaken = false;
    const second = lockBlob(blob, { timing: TIMING }).then((lock) => {
      secondTaken = true;
      return lock;
    });
    await new Promise((done) => setTimeout(done, 300));
    expect(secondTaken).toBe(false); // the first still holds it
    await first.release();
    await (await second).release();

    await writeFile(`${blob}.lock`, '4242@other-host');
    const lines: string[] = [];
    const third = await lockBlob(blob, { timing: TIMING, log: (line) => lines.push(line) });
    expect(lines).toEqual([
      expect.stringContaining('held by process 4242 on "other-host": it was not refreshed'),
    ]);
    await third.release();
  }, 20_000);

  it('a cache folder it cannot write in is one clear line', async () => {
    const folder = await tempDir();
    await writeFile(join(folder, 'blobs'), 'a file where the blobs folder should be');
    const blob = join(folder, 'blobs', 'b'.repeat(64));
    const message = (await userErrorOf(lockBlob(blob, { timing: TIMING }))).message;
    expect(message).toBe(
      `cannot create the download lock ${blob}.lock (ENOTDIR); the Hub cache must be a folder this user can ` +
        'write (set HF_HUB_CACHE or HF_HOME to another one)',
    );
  });
});
