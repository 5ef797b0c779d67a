/**
 * Benchmark jobs: one (prompt, method, seed) each, the image path it writes, and the generation request it
 * stands for.
 */
import type { GenerationRequest, Method } from '../pipeline/request.ts';
import type { TokenSpecification } from '../prompt/index.ts';
import type { BenchmarkPrompt, PromptSet } from './promptSet.ts';
import { type BenchmarkSettings, gsnSettingsOf } from './runSettings.ts';

export interface JobKey {
  readonly setName: string;
  readonly promptId: string;
  readonly method: Method;
  readonly seed: number;
}

/** Everything a worker needs to run a job, as plain JSON (it travels through the queue). */
export interface JobDescription {
  readonly key: JobKey;
  readonly prompt: BenchmarkPrompt;
  readonly settings: BenchmarkSettings;
  /** The run's settings fingerprint, written into the image so a resumed run recognises its own images. */
  readonly run: string;
}

/** Every job of a run, set by set, prompt by prompt, method by method, seed by seed. */
export function expandJobs(sets: readonly PromptSet[], methods: readonly Method[], seeds: readonly number[]) {
  const keys: JobKey[] = [];
  for (const set of sets)
    for (const prompt of set.prompts)
      for (const method of methods)
        for (const seed of seeds) keys.push({ setName: set.name, promptId: prompt.id, method, seed });
  return keys;
}

/** images/SET/METHOD/PROMPT_ID/SEED.png, relative to the run's folder, with `/`. */
export function imagePathOf(key: JobKey): string {
  return ['images', key.setName, key.method, key.promptId, `${key.seed}.png`].join('/');
}

export const keyText = (key: JobKey) => `${key.setName}/${key.promptId}/${key.method}/${key.seed}`;

/**
 * The guidance tokens of a prompt: its given indices, else its structure's words (each object with the
 * attribute that modifies it, "-" for none).
 */
export function promptTokens(prompt: BenchmarkPrompt): TokenSpecification | undefined {
  if (prompt.tokenIndices !== undefined) {
    return { tokenIndices: prompt.tokenIndices, attributeIndices: prompt.attributeIndices };
  }
  // TIFA v1.0's free-form prompts carry no structure: the automatic selection picks their tokens.
  if (prompt.objects.length === 0) return undefined;
  const objects = prompt.objects.map((o) => o.word);
  const attributes = prompt.objects.map((_, k) => prompt.attributes.find((a) => a.object === k)?.word ?? '-');
  return { objects, attributes: attributes.some((a) => a !== '-') ? attributes : undefined };
}

/** The request a job stands for. */
export function jobRequest(job: JobDescription): GenerationRequest {
  const g = job.settings.generation;
  const guided = job.key.method !== 'sd';
  return {
    prompt: job.prompt.text,
    negativePrompt: g.negativePrompt,
    method: job.key.method,
    seed: job.key.seed,
    rng: g.rng,
    steps: g.steps,
    guidanceScale: g.guidanceScale,
    height: g.height,
    width: g.width,
    scheduler: g.scheduler,
    karras: g.karras,
    numImages: 1,
    tokens: guided ? promptTokens(job.prompt) : undefined,
    gsn: gsnSettingsOf(g.gsn),
  };
}
