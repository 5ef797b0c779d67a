/**
 * `dnb benchmark run --queue …`: the coordinator puts the pending jobs on a BullMQ queue and stores the results
 * that workers send back; it generates nothing itself (start a worker beside it to use its machine). It is the
 * store's only writer. Restarted, it first stores the results that finished while it was away, then queues
 * what is still pending (a job queued already keeps its place: its id is fixed by the run and the store row).
 */
import { type Job, Queue } from 'bullmq';
import { imagePathOf, keyText } from './jobs.ts';
import { decodeResult, JOB_NAME, type QueueJobData, type QueueJobResult, queueJobId } from './queue.ts';
import { connectQueue, type QueueConnectionOptions } from './queueConnection.ts';
import {
  adoptImages,
  describeJob,
  type OpenedRun,
  openRun,
  storeOutput,
  writeImageAtomically,
} from './runFolder.ts';
import type { RunOptions, RunSummary } from './runner.ts';

export interface CoordinatorOptions extends Omit<RunOptions, 'loadGenerator'>, QueueConnectionOptions {
  readonly url: string;
  readonly queueName: string;
  /** How often finished jobs are collected (default 250 ms). */
  readonly pollMs?: number;
}

const BATCH = 100;

export async function runCoordinator(options: CoordinatorOptions): Promise<RunSummary> {
  const opened = openRun(options.dir, options.settings, options.sets, { retryFailed: options.retryFailed });
  let connection: Awaited<ReturnType<typeof connectQueue>> | undefined;
  let queue: Queue<QueueJobData, QueueJobResult> | undefined;
  try {
    const adopted = (await adoptImages(opened)).length;
    connection = await connectQueue(options.url, options);
    const q = new Queue<QueueJobData, QueueJobResult>(options.queueName, { connection: connection.redis });
    queue = q;
    q.on('error', () => {}); // connection errors: `lost` says them once, in words
    const counts = { generated: 0, failed: 0 };
    const collect = () => collectFinished(opened, q, options, counts);
    const work = async () => {
      await collect();
      const pending = opened.store.jobs({ status: 'pending' });
      options.onEvent?.({
        type: 'start',
        expected: opened.store.status().expected,
        pending: pending.length,
        adopted,
      });
      for (let at = 0; at < pending.length; at += BATCH) {
        await q.addBulk(
          pending.slice(at, at + BATCH).map((job) => ({
            name: JOB_NAME,
            data: describeJob(opened, job),
            opts: { jobId: queueJobId(opened.run, job.id), attempts: 1 },
          })),
        );
      }
      while (opened.store.status().pending > 0) {
        await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
        await collect();
      }
    };
    await Promise.race([work(), connection.lost]);
    return { ...counts, adopted, status: opened.store.status() };
  } finally {
    await queue?.close().catch(() => {});
    await connection?.close();
    opened.store.close();
  }
}

/** Stores every finished job of this run and removes it from the queue (after the store's commit). */
async function collectFinished(
  opened: OpenedRun,
  queue: Queue<QueueJobData, QueueJobResult>,
  options: CoordinatorOptions,
  counts: { generated: number; failed: number },
): Promise<void> {
  for (const state of ['completed', 'failed'] as const) {
    // Other runs' finished jobs stay for their coordinators: page past them.
    for (let start = 0; ; ) {
      const page = (await queue.getJobs(state, start, start + BATCH - 1, true)) as Job<
        QueueJobData,
        QueueJobResult
      >[];
      for (const job of page) {
        if (job?.data?.run !== opened.run) {
          start++;
          continue;
        }
        const row = opened.store.job(Number(job.id?.slice(opened.run.length + 1)));
        if (row && state === 'completed') {
          const output = decodeResult(job.returnvalue);
          if (await storeOutput(opened, row, output, options.writeImage ?? writeImageAtomically)) {
            counts.generated++;
            options.onEvent?.({
              type: 'stored',
              key: job.data.key,
              imagePath: imagePathOf(row),
              totalMs: output.timings.totalMs,
            });
          }
        } else if (row?.status === 'pending') {
          const error = job.failedReason || 'failed on the queue';
          opened.store.recordFailure(row.id, error);
          counts.failed++;
          options.onEvent?.({
            type: 'failed',
            key: job.data.key,
            error: `${keyText(job.data.key)}: ${error}`,
          });
        }
        await job.remove();
      }
      if (page.length < BATCH) break;
    }
  }
}
