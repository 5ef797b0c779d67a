/**
 * `dnb benchmark run` in one process: the jobs of a run, one after another, on one loaded model. Killed at any
 * moment, the same call finishes the rest: stored jobs are skipped, images written but not yet stored are
 * adopted (runFolder.ts), and the model is loaded only when something is left to generate.
 */
import type { LoadedGenerator } from './jobGenerator.ts';
import { imagePathOf, type JobKey, keyText } from './jobs.ts';
import type { PromptSet } from './promptSet.ts';
import {
  adoptImages,
  describeJob,
  type OpenedRun,
  openRun,
  storeOutput,
  type WriteImage,
  writeImageAtomically,
} from './runFolder.ts';
import type { BenchmarkSettings } from './runSettings.ts';
import type { StoreStatus } from './store.ts';

export type RunEvent =
  /** Before the first job: how many jobs the run has and how many are left. */
  | { type: 'start'; expected: number; pending: number; adopted: number }
  /** A generated image was written and stored; `imagePath` is relative to the run's folder. */
  | { type: 'stored'; key: JobKey; imagePath: string; totalMs: number }
  | { type: 'failed'; key: JobKey; error: string };

export interface RunOptions {
  readonly dir: string;
  readonly settings: Omit<BenchmarkSettings, 'prompts'>;
  readonly sets: readonly PromptSet[];
  /** Loads the generator; called once, and only when a job is left to generate. */
  readonly loadGenerator: () => Promise<LoadedGenerator>;
  /** Try the jobs that failed in an earlier run again (default: they stay failed). */
  readonly retryFailed?: boolean;
  readonly writeImage?: WriteImage;
  readonly onEvent?: (event: RunEvent) => void;
}

export interface RunSummary {
  readonly generated: number;
  readonly adopted: number;
  readonly failed: number;
  readonly status: StoreStatus;
}

/**
 * Runs every pending job. A job whose generation throws is recorded as failed with its error and the run goes
 * on; a failed image write (a full disk) stops the run with a UserError, keeping what is stored.
 */
export async function runBenchmark(options: RunOptions): Promise<RunSummary> {
  const opened = openRun(options.dir, options.settings, options.sets, { retryFailed: options.retryFailed });
  let generator: LoadedGenerator | undefined;
  try {
    const adopted = (await adoptImages(opened)).length;
    const pending = opened.store.jobs({ status: 'pending' });
    options.onEvent?.({
      type: 'start',
      expected: opened.store.status().expected,
      pending: pending.length,
      adopted,
    });
    let [generated, failed] = [0, 0];
    for (const job of pending) {
      generator ??= await options.loadGenerator();
      const outcome = await runJob(opened, job, generator, options.writeImage ?? writeImageAtomically);
      if (outcome.type === 'failed') failed++;
      else generated++;
      options.onEvent?.(outcome);
    }
    return { generated, adopted, failed, status: opened.store.status() };
  } finally {
    await generator?.release();
    opened.store.close();
  }
}

async function runJob(
  opened: OpenedRun,
  job: ReturnType<OpenedRun['store']['jobs']>[number],
  generator: LoadedGenerator,
  writeImage: WriteImage,
): Promise<RunEvent> {
  const description = describeJob(opened, job);
  let output: Awaited<ReturnType<LoadedGenerator['generate']>>;
  try {
    output = await generator.generate(description);
  } catch (error) {
    const message = (error as Error)?.message ?? String(error);
    opened.store.recordFailure(job.id, message);
    return { type: 'failed', key: description.key, error: `${keyText(description.key)}: ${message}` };
  }
  await storeOutput(opened, job, output, writeImage);
  return {
    type: 'stored',
    key: description.key,
    imagePath: imagePathOf(description.key),
    totalMs: output.timings.totalMs,
  };
}
