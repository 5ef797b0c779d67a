import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromptSet } from '../../src/benchmark/promptSet.ts';
import { runCoordinator } from '../../src/benchmark/queueCoordinator.ts';
import type { RunEvent, RunSummary } from '../../src/benchmark/runner.ts';
import type { BenchmarkSettings } from '../../src/benchmark/runSettings.ts';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { FIXTURES, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { freePort, type RedisServer, startRedis } from '../helpers/redisServer.ts';
import { userErrorOf } from '../helpers/userError.ts';

const DNB = join(FIXTURES, '..', '..', 'bin', 'dnb.js');

const SET: PromptSet = {
  name: 'tiny',
  label: 'Tiny',
  source: 'test',
  reconstructed: false,
  prompts: [
    { id: 'cat_dog', text: 'a cat and a dog', objects: [], attributes: [] },
    { id: 'frog', text: 'a frog on a log', objects: [], attributes: [] },
  ],
};

const SETTINGS: Omit<BenchmarkSettings, 'prompts'> = {
  model: 'tiny-sd',
  sets: ['tiny'],
  methods: ['sd'],
  seeds: [0, 1, 2, 3],
  generation: { negativePrompt: '', rng: 'cpu', steps: 2, guidanceScale: 7.5, gsn: {}, dtype: 'fp32' },
};

interface WorkerProcess {
  readonly child: ChildProcess;
  stderr: string;
  readonly exited: Promise<void>;
}

/** `dnb benchmark worker` with a 2 s lock and a 0.5 s stalled-job check, so a dead worker's job moves on fast. */
function startWorker(url: string, queueName: string, cacheDir: string): WorkerProcess {
  const child = spawn(
    process.execPath,
    [
      DNB,
      'benchmark',
      'worker',
      '--queue',
      url,
      '--queue-name',
      queueName,
      '--model',
      TINY_SD,
      '--threads',
      '1',
      '--cache-dir',
      cacheDir,
      '--lock-duration',
      '2000',
      '--stalled-interval',
      '500',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const worker: WorkerProcess = {
    child,
    stderr: '',
    exited: new Promise((resolve) => child.once('close', () => resolve())),
  };
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (worker.stderr += chunk));
  return worker;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('dnb benchmark over a Redis queue', () => {
  let redis: RedisServer;
  const workers: WorkerProcess[] = [];
  const root = tempDir('dnb-queue-');
  const out = join(root, 'run');
  const events: RunEvent[] = [];
  let summary: RunSummary;
  let killedJob = '';

  beforeAll(async () => {
    redis = await startRedis();
    const cacheDir = join(root, 'cache');
    workers.push(
      startWorker(redis.url, 'test-queue', cacheDir),
      startWorker(redis.url, 'test-queue', cacheDir),
    );
    const coordinator = runCoordinator({
      dir: out,
      settings: SETTINGS,
      sets: [SET],
      url: redis.url,
      queueName: 'test-queue',
      pollMs: 100,
      onEvent: (e) => events.push(e),
    });
    // Kill the first worker mid-job: after it took a job, before that job is stored.
    const [doomed] = workers;
    await until(() => /^start (\S+)$/m.test(doomed.stderr), 60_000, 'the first worker to start a job');
    killedJob = /^start (\S+)$/m.exec(doomed.stderr)?.[1] ?? '';
    doomed.child.kill('SIGKILL');
    summary = await Promise.race([
      coordinator,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('coordinator timed out')), 180_000),
      ),
    ]);
  }, 240_000);

  afterAll(async () => {
    for (const worker of workers) worker.child.kill('SIGTERM');
    await Promise.all(
      workers.map((w) => Promise.race([w.exited, new Promise((r) => setTimeout(r, 10_000))])),
    );
    for (const worker of workers) worker.child.kill('SIGKILL');
    await redis?.stop();
  }, 30_000);

  it('finishes every job once though a worker died mid-job', async () => {
    expect(summary.status).toEqual({ expected: 8, done: 8, failed: 0, pending: 0, duplicates: 0 });
    expect(workers[0].stderr).not.toMatch(new RegExp(`^done ${killedJob}$`, 'm'));
    // The dead worker's job was retried by the other one.
    expect(workers[1].stderr).toMatch(new RegExp(`^done ${killedJob}$`, 'm'));
    const stored = events.filter((e) => e.type === 'stored');
    expect(stored).toHaveLength(8);
  });

  it("stores the workers' PNGs, written by the coordinator alone", async () => {
    const store = BenchmarkStore.open(out);
    const results = store.results();
    store.close();
    expect(results).toHaveLength(8);
    const pid = String(workers[1].child.pid);
    expect(results.some((r) => r.worker.endsWith(`:${pid}`))).toBe(true);
    for (const result of results) {
      const { info } = await sharp(join(out, result.imagePath)).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([64, 64]);
    }
  });

  it('does nothing when run again on the finished folder', async () => {
    const again = await runCoordinator({
      dir: out,
      settings: SETTINGS,
      sets: [SET],
      url: redis.url,
      queueName: 'test-queue',
    });
    expect([again.generated, again.failed, again.status.done]).toEqual([0, 0, 8]);
  });

  it('says in one line, within seconds, that a Redis URL does not answer', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const error = await userErrorOf(
      runCoordinator({ dir: join(root, 'nowhere'), settings: SETTINGS, sets: [SET], url, queueName: 'q' }),
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error.message).toBe(
      `cannot reach Redis at ${url} (ECONNREFUSED); start redis-server there or correct --queue`,
    );
  });

  it('dnb benchmark worker says so too, in one line', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const worker = startWorker(url, 'q', join(root, 'cache'));
    const code = await new Promise<number | null>((resolve) => worker.child.once('exit', resolve));
    await worker.exited;
    expect(code).toBe(1);
    expect(worker.stderr.trim().split('\n').at(-1)).toBe(
      `dnb: cannot reach Redis at ${url} (ECONNREFUSED); start redis-server there or correct --queue`,
    );
    expect(worker.stderr).not.toMatch(/\n\s+at /);
  });
});
