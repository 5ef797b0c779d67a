/**
 * A benchmark run's folder: DIR/benchmark.db and DIR/images/…. The order of a job's two writes is the PNG
 * (written to a temporary file and renamed), then the store's commit. A kill between the two leaves a complete
 * PNG whose job is still pending: `adoptImages` stores it from the PNG's own job record, so it is neither lost
 * nor generated again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomically } from '../weights/atomicFile.ts';
import type { JobOutput } from './jobGenerator.ts';
import { readJobRecord, recordMatches } from './jobImage.ts';
import { expandJobs, imagePathOf, type JobDescription } from './jobs.ts';
import type { PromptSet } from './promptSet.ts';
import { type BenchmarkSettings, canonicalJson } from './runSettings.ts';
import { BenchmarkStore, type JobRow } from './store.ts';

/** Writes a file whole or not at all; tests inject failures here (a full disk). */
export type WriteImage = (path: string, bytes: Uint8Array) => Promise<void>;

export const writeImageAtomically: WriteImage = async (path, bytes) => {
  await mkdir(dirname(path), { recursive: true });
  // overwrite: a file there is not this run's (adoption would have taken it), e.g. left by a deleted store.
  await writeFileAtomically(path, (handle) => handle.writeFile(bytes), { overwrite: true });
};

export interface OpenedRun {
  readonly store: BenchmarkStore;
  /** The settings' fingerprint: job records and queue job ids carry it. */
  readonly run: string;
}

/** A hash of the prompts' text and structure, so a prompts file edited between commands is noticed. */
export function promptsDigest(sets: readonly PromptSet[]): string {
  const prompts = sets.map((set) => ({ name: set.name, prompts: set.prompts }));
  return createHash('sha256').update(canonicalJson(prompts)).digest('hex').slice(0, 16);
}

/**
 * Opens (or creates) the run in `dir`: records its settings, prompts and jobs the first time, and refuses a
 * folder made with other settings, naming the setting.
 */
export function openRun(
  dir: string,
  given: Omit<BenchmarkSettings, 'prompts'>,
  sets: readonly PromptSet[],
  options: { retryFailed?: boolean } = {},
): OpenedRun {
  if (new Set(sets.map((s) => s.name)).size !== sets.length) {
    throw new UserError(
      `a prompt set is named twice (${sets.map((s) => s.name).join(', ')}); name each once`,
    );
  }
  const settings: BenchmarkSettings = { ...given, prompts: promptsDigest(sets) };
  const store = BenchmarkStore.open(dir, { create: true });
  try {
    const prompts = sets.flatMap((set) => set.prompts.map((prompt) => ({ setName: set.name, prompt })));
    const run = store.initialise(settings, prompts, expandJobs(sets, settings.methods, settings.seeds));
    if (options.retryFailed) store.retryFailed();
    return { store, run };
  } catch (error) {
    store.close();
    throw error;
  }
}

/** What a worker needs for a stored job. */
export function describeJob(opened: OpenedRun, job: JobRow): JobDescription {
  return {
    key: { setName: job.setName, promptId: job.promptId, method: job.method, seed: job.seed },
    prompt: opened.store.prompt(job.setName, job.promptId),
    settings: opened.store.settings(),
    run: opened.run,
  };
}

/** writeFileAtomically's temporary name: `.NAME.<12 hex>.tmp`. */
const TEMPORARY = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Removes the temporary files of image writes that a kill interrupted. Safe only because this process is the
 * folder's one writer and has not started writing yet.
 */
export async function removeInterruptedWrites(dir: string): Promise<number> {
  const images = join(dir, 'images');
  const entries = await readdir(images, { recursive: true, withFileTypes: true }).catch(() => []);
  const stale = entries.filter((e) => e.isFile() && TEMPORARY.test(e.name));
  await Promise.all(stale.map((e) => unlink(join(e.parentPath, e.name)).catch(() => {})));
  return stale.length;
}

/** Stores every pending job whose complete PNG, made by this run, is already on disk. Returns their ids. */
export async function adoptImages(opened: OpenedRun): Promise<number[]> {
  await removeInterruptedWrites(opened.store.dir);
  const adopted: number[] = [];
  for (const job of opened.store.jobs({ status: 'pending' })) {
    const imagePath = imagePathOf(job);
    const record = await readJobRecord(join(opened.store.dir, imagePath));
    if (!record || !recordMatches(record, opened.run, job)) continue;
    const { timings, traceSummary, worker } = record;
    if (opened.store.recordResult(job.id, { imagePath, timings, traceSummary, worker })) adopted.push(job.id);
  }
  return adopted;
}

/**
 * Writes a job's PNG and stores its result. Idempotent: a job stored already is left as it is (false). A
 * failed write stops the run with a message that says the stored images are kept and how to resume.
 */
export async function storeOutput(
  opened: OpenedRun,
  job: JobRow,
  output: JobOutput,
  writeImage: WriteImage = writeImageAtomically,
): Promise<boolean> {
  const { store } = opened;
  if (store.job(job.id)?.status === 'done') return false;
  const imagePath = imagePathOf(job);
  const path = join(store.dir, imagePath);
  try {
    await writeImage(path, output.png);
  } catch (error) {
    const { done, expected } = store.status();
    throw new UserError(
      `cannot write ${path}: ${(error as Error).message}. The run stopped; the ${done} of ${expected} images ` +
        'stored so far are kept. Free some space (or fix the folder) and run the same command again to resume.',
    );
  }
  const { timings, traceSummary, worker } = output;
  return store.recordResult(job.id, { imagePath, timings, traceSummary, worker });
}
