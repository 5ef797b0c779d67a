/**
 * A small benchmark run made without a model, for the report, page and studio tests: a real store with two sets
 * × two prompts × three methods × three seeds, real PNGs (with the `dnb` metadata a run writes) and scores
 * whose means the tests can work out by hand.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { expandJobs, imagePathOf } from '../../src/benchmark/jobs.ts';
import type { PromptSet } from '../../src/benchmark/promptSet.ts';
import type { BenchmarkSettings } from '../../src/benchmark/runSettings.ts';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { imageTextChunks } from '../../src/cli/imageMetadata.ts';
import { addPngTextChunks } from '../../src/cli/pngTextChunks.ts';

export const RUN_METHODS = ['sd', 'attend-excite', 'divide-bind'] as const;
export const RUN_SEEDS = [0, 1, 2];
export const IMAGE_SIZE = 64;

const SETS: PromptSet[] = [
  {
    name: 'animal-animal',
    label: 'Animal-Animal',
    source: 'test',
    reconstructed: false,
    prompts: [
      { id: 'a-cat-and-a-dog', text: 'a cat and a dog', objects: [], attributes: [] },
      { id: 'a-bird-and-a-frog', text: 'a bird and a frog', objects: [], attributes: [] },
    ],
  },
  {
    name: 'color-object',
    label: 'Color-Object',
    source: 'test',
    reconstructed: false,
    prompts: [
      { id: 'a-red-car-and-a-blue-bowl', text: 'a red car and a blue bowl', objects: [], attributes: [] },
      {
        id: 'a-green-bench-and-a-pink-clock',
        text: 'a green bench and a pink clock',
        objects: [],
        attributes: [],
      },
    ],
  },
];

export const SETTINGS: BenchmarkSettings = {
  model: 'tiny-test-model',
  sets: SETS.map((s) => s.name),
  methods: [...RUN_METHODS],
  seeds: RUN_SEEDS,
  generation: { negativePrompt: '', rng: 'cpu', steps: 3, guidanceScale: 7.5, gsn: {}, dtype: 'fp32' },
};

/** Per method, what its scores add to SD's; the CLIP score of prompt p, seed s is 0.30 + 0.01·s + bonus. */
export const BONUS = { sd: 0, 'attend-excite': 0.02, 'divide-bind': 0.04 } as const;

export function clipFullOf(method: keyof typeof BONUS, seed: number): number {
  return 0.3 + 0.01 * seed + BONUS[method];
}

export interface TestRun {
  dir: string;
  /** Job ids of the results, by "set/prompt/method/seed". */
  jobIds: Map<string, number>;
  /** The one job that failed (no image). */
  failedKey: string;
}

/**
 * Makes the run in a new temporary folder. Every job is done except divide-bind on the last prompt with seed 2,
 * which failed; clip-full and tifa are scored everywhere, clip-min-half only on animal-animal (nothing is scored
 * with `scored: false`).
 */
export async function makeTestRun(options: { scored?: boolean } = {}): Promise<TestRun> {
  const scored = options.scored ?? true;
  const dir = await mkdtemp(join(tmpdir(), 'dnb-report-'));
  const store = BenchmarkStore.open(dir, { create: true });
  const keys = expandJobs(SETS, [...RUN_METHODS], RUN_SEEDS);
  store.initialise(
    SETTINGS,
    SETS.flatMap((set) => set.prompts.map((prompt) => ({ setName: set.name, prompt }))),
    keys,
  );
  const jobIds = new Map<string, number>();
  const failedKey = 'color-object/a-green-bench-and-a-pink-clock/divide-bind/2';
  try {
    for (const [index, job] of store.jobs().entries()) {
      const key = `${job.setName}/${job.promptId}/${job.method}/${job.seed}`;
      if (key === failedKey) {
        store.recordFailure(job.id, 'out of memory (test)');
        continue;
      }
      const path = imagePathOf(job);
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(
        join(dir, path),
        await testPng(index, job, store.prompt(job.setName, job.promptId).text),
      );
      const guided = job.method !== 'sd';
      store.recordResult(job.id, {
        imagePath: path,
        timings: { totalMs: 1000 + index, phases: { denoise: 900, decode: 100 } },
        traceSummary: guided
          ? [
              { loopIndex: 0, loss: 0.8, indicator: 0.2, refinementIterations: 3, capHit: false },
              { loopIndex: 10, loss: 0.4, indicator: 0.6, refinementIterations: 50, capHit: true },
            ]
          : null,
        worker: 'test:1',
      });
      jobIds.set(key, job.id);
      if (!scored) continue;
      const method = job.method as keyof typeof BONUS;
      store.recordScore(job.id, 'clip-full', clipFullOf(method, job.seed));
      store.recordScore(job.id, 'tifa', job.seed === 0 ? 0.5 : 1, {
        answers: [{ question: 'is there a cat?', answer: 'yes', correct: true }],
      });
      if (job.setName === 'animal-animal') store.recordScore(job.id, 'clip-min-half', 0.2 + BONUS[method]);
    }
  } finally {
    store.close();
  }
  return { dir, jobIds, failedKey };
}

/** A 64 × 64 PNG, its colour from the job's index so each image differs, with the usual text chunks. */
async function testPng(
  index: number,
  job: { method: string; seed: number },
  prompt: string,
): Promise<Buffer> {
  const png = await sharp({
    create: {
      width: IMAGE_SIZE,
      height: IMAGE_SIZE,
      channels: 3,
      background: { r: (index * 37) % 256, g: (index * 91) % 256, b: 128 },
    },
  })
    .png()
    .toBuffer();
  return addPngTextChunks(
    png,
    imageTextChunks({
      prompt,
      negativePrompt: '',
      method: job.method as 'sd',
      model: SETTINGS.model,
      steps: 3,
      guidanceScale: 7.5,
      scheduler: 'pndm',
      height: IMAGE_SIZE,
      width: IMAGE_SIZE,
      seed: job.seed,
      rng: 'cpu',
      imageIndex: 0,
      imageCount: 1,
      tokens: null,
      settings: null,
    }),
  );
}
