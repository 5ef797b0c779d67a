/**
 * What makes a job's image: a function from the job to PNG bytes with timings and a trace summary. The runner
 * and the queue worker take it as a parameter, so their logic is tested with a fake and run with the model.
 */
import { hostname } from 'node:os';
import { describePlan, imageTextChunks } from '../cli/imageMetadata.ts';
import { encodePng } from '../cli/writePng.ts';
import { type LoadOptions, StableDiffusion } from '../pipeline/stableDiffusion.ts';
import type { GuidanceTrace } from '../pipeline/trace.ts';
import { withJobRecord } from './jobImage.ts';
import { type JobDescription, jobRequest } from './jobs.ts';
import type { JobTimings, TraceStepSummary } from './store.ts';

export interface JobOutput {
  /** The PNG file, metadata and job record included. */
  readonly png: Uint8Array;
  readonly timings: JobTimings;
  readonly traceSummary: readonly TraceStepSummary[] | null;
  readonly worker: string;
}

export type JobGenerator = (job: JobDescription) => Promise<JobOutput>;

/** A generator and what it holds (a loaded model), released when the run ends. */
export interface LoadedGenerator {
  readonly generate: JobGenerator;
  release(): Promise<void>;
}

/** "host:pid": which process made an image. */
export const workerName = () => `${hostname()}:${process.pid}`;

/** Per guided loop index: the loss, how many refinement iterations ran and whether the cap stopped them. */
export function summariseTrace(trace: GuidanceTrace | undefined): TraceStepSummary[] | null {
  if (!trace) return null;
  return trace.steps.map((step) => ({
    loopIndex: step.loopIndex,
    loss: step.loss,
    indicator: step.indicator,
    refinementIterations: step.refinement?.iterations ?? 0,
    capHit: step.refinement?.capHit ?? false,
  }));
}

/**
 * Loads the model once for all jobs. `model` is the folder or repo id on this machine (a worker's may differ
 * from the coordinator's); the PNG metadata names the run's model.
 */
export async function loadModelGenerator(
  model: string,
  options: Omit<LoadOptions, 'dtype'> & { dtype: 'fp32' | 'fp16' },
): Promise<LoadedGenerator> {
  const sd = await StableDiffusion.load(model, {
    // A run alternates the guided methods job by job: both their graphs stay open.
    keepWarm: 2,
    ...options,
    dtype: options.dtype === 'fp16' ? 'float16' : 'float32',
  });
  return { generate: modelJobGenerator(sd), release: () => sd.release() };
}

export function modelJobGenerator(sd: StableDiffusion, worker = workerName()): JobGenerator {
  return async (job) => {
    const started = performance.now();
    const plan = sd.plan(jobRequest(job));
    let denoised = started;
    const result = await sd.run(plan, {
      onProgress: (event) => {
        if (event.loopIndex + 1 === event.total) denoised = performance.now();
      },
    });
    const generated = performance.now();
    const image = result.images[0];
    const texts = imageTextChunks(describePlan(plan, { model: job.settings.model, imageIndex: 0 }));
    const png = await encodePng(image.rgb, texts);
    const done = performance.now();
    const timings: JobTimings = {
      totalMs: done - started,
      phases: { denoise: denoised - started, decode: generated - denoised, encode: done - generated },
    };
    const traceSummary = summariseTrace(image.trace);
    return {
      png: withJobRecord(png, { run: job.run, key: job.key, timings, traceSummary, worker }),
      timings,
      traceSummary,
      worker,
    };
  };
}
