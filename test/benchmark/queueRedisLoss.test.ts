import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { LoadedGenerator } from '../../src/benchmark/jobGenerator.ts';
import { withJobRecord } from '../../src/benchmark/jobImage.ts';
import type { PromptSet } from '../../src/benchmark/promptSet.ts';
import { runCoordinator } from '../../src/benchmark/queueCoordinator.ts';
import type { BenchmarkSettings } from '../../src/benchmark/runSettings.ts';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { runWorker } from '../../src/benchmark/worker.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { startRedis } from '../helpers/redisServer.ts';
import { userErrorOf } from '../helpers/userError.ts';

const SET: PromptSet = {
  name: 'tiny',
  label: 'Tiny',
  source: 'test',
  reconstructed: false,
  prompts: [{ id: 'cat_dog', text: 'a cat and a dog', objects: [], attributes: [] }],
};

const SETTINGS: Omit<BenchmarkSettings, 'prompts'> = {
  model: 'fake',
  sets: ['tiny'],
  methods: ['sd'],
  seeds: [0, 1, 2, 3, 4, 5],
  generation: { negativePrompt: '', rng: 'cpu', steps: 2, guidanceScale: 7.5, gsn: {}, dtype: 'fp32' },
};

/** A model-free generator taking 200 ms a job, so Redis can be stopped between jobs. */
const fakeGenerator = async (): Promise<LoadedGenerator> => ({
  async generate(job) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const raw = Buffer.alloc(8 * 8 * 3, job.key.seed * 40);
    const png = await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } })
      .png()
      .toBuffer();
    const timings = { totalMs: 200, phases: {} };
    const record = { run: job.run, key: job.key, timings, traceSummary: null, worker: 'fake' };
    return { png: withJobRecord(png, record), timings, traceSummary: null, worker: 'fake' };
  },
  async release() {},
});

/** An in-process worker on `url` until the returned stop function is called. */
function worker(url: string) {
  let stop = () => {};
  const running = runWorker({
    url,
    queueName: 'loss',
    loadGenerator: fakeGenerator,
    reconnectForMs: 1000,
    stop: new Promise<void>((resolve) => (stop = resolve)),
  }).catch((error: Error) => error);
  return { running, stop: () => stop() };
}

describe('the coordinator when Redis goes away', () => {
  it('stops with a clear message, keeps the store consistent, and the same call resumes', async () => {
    const out = join(tempDir('dnb-queue-loss-'), 'run');
    const first = await startRedis();
    const w1 = worker(first.url);
    let stored = 0;
    const coordinator = runCoordinator({
      dir: out,
      settings: SETTINGS,
      sets: [SET],
      url: first.url,
      queueName: 'loss',
      pollMs: 50,
      reconnectForMs: 1000,
      onEvent: (e) => {
        if (e.type === 'stored' && ++stored === 2) void first.stop();
      },
    });
    const error = await userErrorOf(coordinator);
    expect(error.message).toMatch(
      new RegExp(
        `^lost the connection to Redis at ${first.url} \\(.+\\); what was stored is kept: run the same command again once Redis is back$`,
      ),
    );
    const w1Error = await w1.running;
    expect((w1Error as Error).message).toMatch(/^lost the connection to Redis/);

    const store = BenchmarkStore.open(out);
    const status = store.status();
    store.close();
    expect(status.done).toBeGreaterThanOrEqual(2);
    expect(status.done + status.pending).toBe(6);
    expect(status.duplicates).toBe(0);

    // A new Redis (empty: nothing survived) and the same call: the rest is queued again and finished.
    const second = await startRedis();
    const w2 = worker(second.url);
    try {
      const resumed = await runCoordinator({
        dir: out,
        settings: SETTINGS,
        sets: [SET],
        url: second.url,
        queueName: 'loss',
        pollMs: 50,
      });
      expect(resumed.status).toEqual({ expected: 6, done: 6, failed: 0, pending: 0, duplicates: 0 });
      expect(resumed.generated).toBe(6 - status.done);
    } finally {
      w2.stop();
      await w2.running;
      await second.stop();
    }
  }, 60_000);
});
