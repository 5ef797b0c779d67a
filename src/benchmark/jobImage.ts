/**
 * A job's PNG: besides the usual generation metadata it carries a `dnb-job` chunk with the job, the run's
 * settings fingerprint, the timings and the trace summary. A resumed run that finds a complete PNG for a job the
 * store does not have yet (the process died between the rename and the commit) adopts it from this chunk
 * instead of generating the image again.
 */
import { open } from 'node:fs/promises';
import { addPngTextChunks, readPngTextChunks } from '../cli/pngTextChunks.ts';
import type { JobKey } from './jobs.ts';
import type { JobTimings, TraceStepSummary } from './store.ts';

const KEYWORD = 'dnb-job';

export interface JobImageRecord {
  readonly run: string;
  readonly key: JobKey;
  readonly timings: JobTimings;
  readonly traceSummary: readonly TraceStepSummary[] | null;
  readonly worker: string;
}

export function withJobRecord(png: Uint8Array, record: JobImageRecord): Buffer {
  return addPngTextChunks(png, [{ keyword: KEYWORD, text: JSON.stringify(record) }]);
}

/** The record of the PNG at `path`, or null when there is no file, it is not a whole PNG, or has no record. */
export async function readJobRecord(path: string): Promise<JobImageRecord | null> {
  let bytes: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
  if (!isCompletePng(bytes)) return null;
  try {
    const chunk = readPngTextChunks(bytes).find((t) => t.keyword === KEYWORD);
    return chunk ? (JSON.parse(chunk.text) as JobImageRecord) : null;
  } catch {
    return null;
  }
}

/** Whether a record describes this job of this run. */
export function recordMatches(record: JobImageRecord, run: string, key: JobKey): boolean {
  const k = record.key;
  return (
    record.run === run &&
    k.setName === key.setName &&
    k.promptId === key.promptId &&
    k.method === key.method &&
    k.seed === key.seed
  );
}

/** A PNG ends with its IEND chunk: anything shorter was cut off. */
function isCompletePng(bytes: Buffer): boolean {
  const iend = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
  return bytes.length > 8 + iend.length && bytes.subarray(bytes.length - iend.length).equals(iend);
}
