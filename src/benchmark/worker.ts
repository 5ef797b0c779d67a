/**
 * `dnb benchmark worker`: takes benchmark jobs from the queue one at a time and sends each image back as the
 * job's return value. The model is loaded once and kept (one per dtype and variant the jobs ask for). A worker that dies mid-job loses its lock; after `lockDurationMs` another worker's stalled-job check
 * puts the job back on the queue, and the coordinator's store keeps each job once whatever happens.
 */
import { Worker } from 'bullmq';
import type { LoadedGenerator } from './jobGenerator.ts';
import { keyText } from './jobs.ts';
import { encodeResult, type QueueJobData, type QueueJobResult } from './queue.ts';
import { connectQueue, type QueueConnectionOptions } from './queueConnection.ts';

export interface WorkerOptions extends QueueConnectionOptions {
  readonly url: string;
  readonly queueName: string;
  /** Loads the generator for a dtype and weights variant. */
  readonly loadGenerator: (dtype: 'fp32' | 'fp16', variant: string | undefined) => Promise<LoadedGenerator>;
  /** How long a job's lock lasts without renewal (default 60 s); a dead worker's job waits this long. */
  readonly lockDurationMs?: number;
  /** How often stalled jobs are looked for (default 30 s). */
  readonly stalledIntervalMs?: number;
  /** How many times a job may stall (its worker die) before it fails (default 3). */
  readonly maxStalledCount?: number;
  readonly onJob?: (event: { type: 'start' | 'done' | 'failed'; job: string; detail?: string }) => void;
  /**
   * Loaded before the first job is taken, so a worker with a wrong --model fails at once, in words, instead of
   * failing the jobs it takes.
   */
  readonly preload?: { dtype: 'fp32' | 'fp16'; variant?: string };
  /** Resolves to stop the worker (after its current job). */
  readonly stop: Promise<void>;
}

export async function runWorker(options: WorkerOptions): Promise<{ jobs: number }> {
  const connection = await connectQueue(options.url, options);
  const generators = new Map<string, Promise<LoadedGenerator>>();
  const generatorFor = (dtype: 'fp32' | 'fp16', variant: string | undefined) => {
    const key = `${dtype}/${variant ?? ''}`;
    let generator = generators.get(key);
    if (!generator) {
      generator = options.loadGenerator(dtype, variant);
      generators.set(key, generator);
    }
    return generator;
  };
  if (options.preload) {
    try {
      await generatorFor(options.preload.dtype, options.preload.variant);
    } catch (error) {
      await connection.close();
      throw error;
    }
  }
  let jobs = 0;
  const worker = new Worker<QueueJobData, QueueJobResult>(
    options.queueName,
    async (job) => {
      const { dtype, variant } = job.data.settings.generation;
      const generator = generatorFor(dtype, variant);
      options.onJob?.({ type: 'start', job: keyText(job.data.key) });
      return encodeResult(await (await generator).generate(job.data));
    },
    {
      connection: connection.redis,
      concurrency: 1,
      lockDuration: options.lockDurationMs ?? 60_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: options.maxStalledCount ?? 3,
    },
  );
  worker.on('completed', (job) => {
    jobs++;
    options.onJob?.({ type: 'done', job: keyText(job.data.key) });
  });
  worker.on('failed', (job, error) => {
    if (job) options.onJob?.({ type: 'failed', job: keyText(job.data.key), detail: error.message });
  });
  worker.on('error', () => {}); // connection errors: `lost` says them once, in words
  try {
    await Promise.race([options.stop, connection.lost]);
  } finally {
    await worker.close().catch(() => {});
    for (const generator of generators.values()) await (await generator).release();
    await connection.close();
  }
  return { jobs };
}
