import { describe, expect, it } from 'vitest';
import { expandJobs } from '../../src/benchmark/jobs.ts';
import type { PromptSet } from '../../src/benchmark/promptSet.ts';
import { type BenchmarkSettings, firstDifference } from '../../src/benchmark/runSettings.ts';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { userErrorOf } from '../helpers/userError.ts';

const SET: PromptSet = {
  name: 'tiny',
  label: 'Tiny',
  source: 'test',
  reconstructed: false,
  prompts: [{ id: 'cat_dog', text: 'a cat and a dog', objects: [], attributes: [] }],
};
const SETTINGS: BenchmarkSettings = {
  model: 'm',
  sets: ['tiny'],
  methods: ['sd', 'divide-bind'],
  seeds: [0, 1],
  generation: { negativePrompt: '', rng: 'cpu', steps: 2, guidanceScale: 7.5, gsn: {}, dtype: 'fp32' },
};
const RESULT = {
  imagePath: 'images/tiny/sd/cat_dog/0.png',
  timings: { totalMs: 5, phases: {} },
  traceSummary: null,
  worker: 'w',
};

function newStore(): BenchmarkStore {
  const store = BenchmarkStore.open(tempDir('dnb-store-'), { create: true });
  store.initialise(
    SETTINGS,
    SET.prompts.map((prompt) => ({ setName: SET.name, prompt })),
    expandJobs([SET], SETTINGS.methods, SETTINGS.seeds),
  );
  return store;
}

describe('BenchmarkStore', () => {
  it('stores a result once: a second write of the same job changes nothing', () => {
    const store = newStore();
    const [job] = store.jobs({ method: 'sd' });
    expect(store.recordResult(job.id, RESULT)).toBe(true);
    expect(store.recordResult(job.id, { ...RESULT, worker: 'other' })).toBe(false);
    store.recordFailure(job.id, 'late failure of a retried copy');
    expect(store.status()).toEqual({ expected: 4, done: 1, failed: 0, pending: 3, duplicates: 0 });
    expect(store.results().map((r) => [r.jobId, r.worker, r.status, r.attempts])).toEqual([
      [job.id, 'w', 'done', 1],
    ]);
    store.close();
  });

  it('keeps one row per (prompt, method, seed) and a second initialise adds nothing', () => {
    const store = newStore();
    store.initialise(
      SETTINGS,
      SET.prompts.map((prompt) => ({ setName: SET.name, prompt })),
      expandJobs([SET], SETTINGS.methods, SETTINGS.seeds),
    );
    expect(store.jobs()).toHaveLength(4);
    expect(store.prompt('tiny', 'cat_dog').text).toBe('a cat and a dog');
    expect(store.settings()).toEqual(SETTINGS);
    store.close();
  });

  it('keeps scores per (job, metric) and questions per prompt', () => {
    const store = newStore();
    const [job] = store.jobs();
    store.recordScore(job.id, 'clip-full', 0.25, { caption: 'x' });
    store.recordScore(job.id, 'clip-full', 0.3);
    expect(store.scoresFor('clip-full')).toEqual([
      { jobId: job.id, metric: 'clip-full', value: 0.3, detail: null },
    ]);
    const question = {
      question: 'is there a cat?',
      choices: ['yes', 'no'],
      answer: 'yes',
      category: 'object',
    };
    store.recordQuestions('tiny', 'cat_dog', [question]);
    store.recordQuestions('tiny', 'cat_dog', [question]);
    expect(store.questionsFor('tiny', 'cat_dog')).toEqual([{ id: 1, ...question }]);
    store.close();
  });

  it('refuses a folder without a store, naming the command that makes one', async () => {
    const dir = tempDir('dnb-store-none-');
    const error = await userErrorOf(Promise.resolve().then(() => BenchmarkStore.open(dir)));
    expect(error.message).toBe(
      `${dir} holds no benchmark.db: start a run there with dnb benchmark run --out ${dir}`,
    );
  });
});

describe('firstDifference', () => {
  it('names the first setting that differs, by its path', () => {
    expect(firstDifference(SETTINGS, structuredClone(SETTINGS))).toBeNull();
    const other = { ...SETTINGS, generation: { ...SETTINGS.generation, gsn: { scaleFactor: 10 } } };
    expect(firstDifference(SETTINGS, other)).toBe(
      'generation.gsn.scaleFactor: the folder has unset, this command 10',
    );
    expect(firstDifference(SETTINGS, { ...SETTINGS, model: 'n' })).toBe(
      'model: the folder has "m", this command "n"',
    );
  });
});
