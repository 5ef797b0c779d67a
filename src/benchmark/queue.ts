/**
 * What travels over the benchmark queue (BullMQ on Redis): a job carries its JobDescription to a worker; the
 * worker's return value carries the PNG and its summary back. BullMQ records a job's completion and return
 * value in one atomic step, so a result is either whole in Redis or not there; the coordinator alone writes
 * the store.
 */
import type { JobOutput } from './jobGenerator.ts';
import type { JobDescription } from './jobs.ts';

export const DEFAULT_QUEUE_NAME = 'dnb-benchmark';
export const JOB_NAME = 'generate';

export type QueueJobData = JobDescription;

/** A JobOutput as JSON: the PNG in base64. */
export interface QueueJobResult extends Omit<JobOutput, 'png'> {
  readonly png: string;
}

/**
 * A queue job id per run and store row, so adding a pending job again (a restarted coordinator) finds the job
 * already queued instead of queueing it twice. BullMQ refuses integer ids and ':'.
 */
export const queueJobId = (run: string, jobId: number) => `${run}-${jobId}`;

export function encodeResult(output: JobOutput): QueueJobResult {
  return { ...output, png: Buffer.from(output.png).toString('base64') };
}

export function decodeResult(result: QueueJobResult): JobOutput {
  return { ...result, png: Buffer.from(result.png, 'base64') };
}
