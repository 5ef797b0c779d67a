import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type LockTiming, lockBlob } from '../../src/weights/hubLock.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { useTempDirs } from './tempDir.ts';

const tempDir = useTempDirs();
const HUB_LOCK = fileURLToPath(new URL('../../src/weights/hubLock.ts', import.meta.url));

/**
 * The defaults (5 s heartbeat, 60 s stale) scaled down 30×, with 20 missed heartbeats instead of 12: a test
 * process stalled for 2 s on a loaded machine would otherwise look dead.
 */
const TIMING: LockTiming = { pollMs: 20, heartbeatMs: 100, staleAfterMs: 2_000 };

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

async function blobIn(): Promise<string> {
  const blobs = join(await tempDir(), 'blobs');
  await mkdir(blobs);
  return join(blobs, 'a'.repeat(64));
}

/** lockBlob with the test timing, recording its lines and how long it waited. */
async function timedLock(blob: string) {
  const lines: string[] = [];
  const started = performance.now();
  const lock = await lockBlob(blob, { timing: TIMING, log: (line) => lines.push(line) });
  return { lock, lines, waitedMs: performance.now() - started };
}

/**
 * A process that takes the lock as host "other-host" (os.hostname patched before the lock module loads, as a
 * machine sharing the cache over NFS would write it), says "locked", and releases it after `holdMs`.
 */
function holdOnOtherHost(blob: string, holdMs: number): Promise<ChildProcess> {
  const script =
    "import os from 'node:os'; import { syncBuiltinESMExports } from 'node:module';" +
    "os.hostname = () => 'other-host'; syncBuiltinESMExports();" +
    `const { lockBlob } = await import(${JSON.stringify(HUB_LOCK)});` +
    `const lock = await lockBlob(${JSON.stringify(blob)}, { timing: ${JSON.stringify(TIMING)} });` +
    "process.stdout.write('locked\\n');" +
    `setTimeout(() => lock.release().then(() => process.exit(0)), ${holdMs});`;
  const child = spawn(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((done, fail) => {
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      if (text.includes('locked')) done(child);
    });
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`the holder exited with ${code} before locking`)));
  });
}

async function lockFiles(blob: string): Promise<string[]> {
  return (await readdir(join(blob, '..'))).filter((name) => name.includes('.lock'));
}

describe('the per-blob download lock', () => {
  it('takes over a lock from another host that nobody refreshes, after staleAfterMs, saying so', async () => {
    const blob = await blobIn();
    await writeFile(`${blob}.lock`, '4242@other-host');
    const { lock, lines, waitedMs } = await timedLock(blob);
    expect(waitedMs).toBeGreaterThanOrEqual(TIMING.staleAfterMs);
    expect(waitedMs).toBeLessThan(TIMING.staleAfterMs + 2_000); // measured 2,004 ms
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^taking over the download lock ${blob}\\.lock held by process 4242 on "other-host": it was not ` +
          'refreshed for 2 s \\(a live download refreshes it every 0\\.1 s\\), so its process has stopped$',
      ),
    );
    expect(await readFile(`${blob}.lock`, 'utf8')).toBe(`${process.pid}@${hostname()}`);
    await lock.release();
    expect(await lockFiles(blob)).toEqual([]);
  });

  it("waits for another host's lock while it is refreshed, and takes it at once when released", async () => {
    const blob = await blobIn();
    await writeFile(`${blob}.lock`, '4242@other-host');
    // The other host's heartbeat, as the test's own clock sees it.
    const heartbeat = setInterval(() => {
      const now = new Date();
      void utimes(`${blob}.lock`, now, now).catch(() => {});
    }, TIMING.heartbeatMs);
    let waitedMs = Number.POSITIVE_INFINITY;
    let lines: string[] = [];
    const waiting = timedLock(blob).then((taken) => {
      ({ waitedMs, lines } = taken);
      return taken.lock;
    });
    await new Promise((done) => setTimeout(done, 2 * TIMING.staleAfterMs));
    expect(waitedMs).toBe(Number.POSITIVE_INFINITY); // still waiting after 2× staleAfterMs
    clearInterval(heartbeat);
    await unlink(`${blob}.lock`);
    const lock = await waiting;
    expect(waitedMs).toBeLessThan(2 * TIMING.staleAfterMs + 500); // measured 4,005 ms
    expect(lines).toEqual([]); // released, not taken over
    await lock.release();
  });

  it("keeps its own lock alive with a heartbeat: another host's process waits until it is released", async () => {
    const blob = await blobIn();
    await holdOnOtherHost(blob, 2 * TIMING.staleAfterMs);
    // Its pid cannot be checked from here: only the heartbeat keeps the lock from looking stale.
    expect(await readFile(`${blob}.lock`, 'utf8')).toMatch(/^\d+@other-host$/);
    const { lock, lines, waitedMs } = await timedLock(blob);
    // The holder announces itself once it holds the lock; it holds it twice staleAfterMs.
    expect(waitedMs).toBeGreaterThan(1.5 * TIMING.staleAfterMs); // measured 4,019 ms
    expect(lines).toEqual([]);
    expect(await readFile(`${blob}.lock`, 'utf8')).toBe(`${process.pid}@${hostname()}`);
    const own = (await stat(`${blob}.lock`)).mtimeMs;
    await new Promise((done) => setTimeout(done, 4 * TIMING.heartbeatMs));
    expect((await stat(`${blob}.lock`)).mtimeMs).toBeGreaterThan(own); // this process beats too
    await lock.release();
    expect(await lockFiles(blob)).toEqual([]);
  });

  it('takes over from a process on another host killed while holding, once its heartbeat stops', async () => {
    const blob = await blobIn();
    const holder = await holdOnOtherHost(blob, 60_000);
    setTimeout(() => holder.kill('SIGKILL'), 500);
    const { lock, lines, waitedMs } = await timedLock(blob);
    // Kept fresh for a while by its heartbeat, then taken over staleAfterMs after the last one.
    expect(waitedMs).toBeGreaterThan(TIMING.staleAfterMs + 200); // measured 2,439 ms
    expect(waitedMs).toBeLessThan(500 + TIMING.staleAfterMs + 2_000);
    expect(lines).toEqual([
      expect.stringMatching(/held by process \d+ on "other-host": it was not refreshed for 2 s/),
    ]);
    await lock.release();
  });

  it('takes over at once a lock whose process is gone from this host', async () => {
    const blob = await blobIn();
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((done) => dead.on('close', done));
    await writeFile(`${blob}.lock`, `${dead.pid}@${hostname()}`);
    const { lock, lines, waitedMs } = await timedLock(blob);
    expect(waitedMs).toBeLessThan(TIMING.staleAfterMs / 2); // measured 4 ms
    expect(lines).toEqual([
      `taking over the download lock ${blob}.lock held by process ${dead.pid} on ${JSON.stringify(hostname())}: ` +
        `process ${dead.pid} is gone (killed mid-download?)`,
    ]);
    await lock.release();
  });

  it('takes over at once a lock naming this very process that it does not hold (a reused pid)', async () => {
    const blob = await blobIn();
    await writeFile(`${blob}.lock`, `${process.pid}@${hostname()}`);
    const { lock, lines, waitedMs } = await timedLock(blob);
    expect(waitedMs).toBeLessThan(TIMING.staleAfterMs / 2); // measured 2 ms
    expect(lines).toEqual([
      expect.stringContaining('that is this process id, so an earlier process left it'),
    ]);
    await lock.release();
  });

  it('tells the holder that its lock was taken over, and then leaves the new holder’s lock alone', async () => {
    const blob = await blobIn();
    const first = await lockBlob(blob, { timing: { ...TIMING, heartbeatMs: 60_000 }, log: () => {} });
    await writeFile(`${blob}.lock.other`, '4242@other-host');
    await rename(`${blob}.lock.other`, `${blob}.lock`); // as a waiter that judged it stale would do
    expect((await userErrorOf(first.assertHeld())).message).toMatch(
      /^another process took over the download lock .*\.lock while this one did not refresh it for 2 s/,
    );
    await first.release();
    expect(await readFile(`${blob}.lock`, 'utf8')).toBe('4242@other-host');
  });
});
