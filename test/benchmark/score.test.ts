import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandJobs, imagePathOf } from '../../src/benchmark/jobs.ts';
import type { PromptSet } from '../../src/benchmark/promptSet.ts';
import type { BenchmarkSettings } from '../../src/benchmark/runSettings.ts';
import { loadScoringModels, type ScoringModels } from '../../src/benchmark/scoreModels.ts';
import { scoreRun } from '../../src/benchmark/scoreRun.ts';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { runDnb } from '../cli/runDnb.ts';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';

const EVAL = join(FIXTURES, 'eval');
const spec = async (name: string) =>
  (await import(join(EVAL, 'specs', `${name}.json`), { with: { type: 'json' } })).default;

/** The fixture images in the goldens' order: seed k of every prompt is image k. */
const IMAGES = ['rgb_64x64', 'rgb_80x60', 'rgb_50x90', 'rgba_75x70', 'gray_40x52'];
const SEEDS = [0, 1, 2, 3, 4];

/** TIFA v1.0-style questions: the golden VQA questions, with choices that hold the tiny model's answers. */
const QUESTIONS = [
  {
    question: 'is there a dog in the picture?',
    choices: ['yes', 'no', 'thus soon', 'thus school'],
    answer: 'thus soon',
  },
  {
    question: 'what color is the car?',
    choices: ['green school', 'thus school', 'red'],
    answer: 'green school',
    category: 'color',
  },
  {
    question: 'how many people are there?',
    choices: ['thus school', 'green school', '2'],
    answer: '2',
    category: 'counting',
  },
  { question: 'what is the man holding?', choices: ['thus soon', 'itselfic', 'a cup'], answer: 'itselfic' },
];

const SET: PromptSet = {
  name: 'eval-images',
  label: 'Eval images',
  source: 'test',
  reconstructed: false,
  prompts: [
    { id: 'cat-frog', text: 'a cat and a frog', objects: [], attributes: [], questions: QUESTIONS },
    {
      id: 'purple-dog',
      text: 'a purple dog and a green crown',
      objects: [],
      attributes: [],
      questions: QUESTIONS,
    },
    // No questions given: its structure's are made and stored; no " and ", so no minimum-half score.
    {
      id: 'red-car',
      text: 'a red car',
      objects: [{ word: 'car', count: 1 }],
      attributes: [{ word: 'red', object: 0 }],
    },
  ],
};

const SETTINGS: BenchmarkSettings = {
  model: 'none',
  sets: [SET.name],
  methods: ['sd'],
  seeds: SEEDS,
  generation: { negativePrompt: '', rng: 'cpu', steps: 1, guidanceScale: 7.5, gsn: {}, dtype: 'fp32' },
};

/** A run whose "generated" images are the evaluation fixtures, so the scores can be checked against goldens. */
async function makeRun(): Promise<string> {
  const dir = tempDir('dnb-score-');
  const store = BenchmarkStore.open(dir, { create: true });
  try {
    store.initialise(
      SETTINGS,
      SET.prompts.map((prompt) => ({ setName: SET.name, prompt })),
      expandJobs([SET], ['sd'], SEEDS),
    );
    for (const job of store.jobs()) {
      const path = imagePathOf(job);
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await copyFile(join(EVAL, 'images', `${IMAGES[job.seed]}.png`), join(dir, path));
      store.recordResult(job.id, {
        imagePath: path,
        timings: { totalMs: 1, phases: {} },
        traceSummary: null,
        worker: 'test',
      });
    }
  } finally {
    store.close();
  }
  return dir;
}

function scores(dir: string, metric: string) {
  const store = BenchmarkStore.open(dir);
  try {
    const byJob = new Map(store.jobs().map((job) => [job.id, job]));
    return store.scoresFor(metric).map((s) => ({ ...s, job: byJob.get(s.jobId)! }));
  } finally {
    store.close();
  }
}

describe('dnb benchmark score on the tiny evaluation models', () => {
  let dir: string;
  let models: ScoringModels;

  beforeAll(async () => {
    dir = await makeRun();
    models = await loadScoringModels(['clip', 'text-text', 'tifa'], {
      clip: join(EVAL, 'clip-tiny'),
      caption: join(EVAL, 'blip-caption-tiny'),
      vqa: join(EVAL, 'blip-vqa-tiny'),
      cacheDir: join(tempDir('dnb-score-cache-'), 'cache'),
      threads: 1,
      batch: 4,
    });
  });
  afterAll(async () => {
    await models?.release();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scores every image, batch by batch, and stores the scores and the questions', async () => {
    const progress: string[] = [];
    const warnings: string[] = [];
    const store = BenchmarkStore.open(dir);
    try {
      const summary = await scoreRun(store, models, {
        groups: ['clip', 'text-text', 'tifa'],
        batchSize: 4,
        onProgress: (p) => progress.push(`${p.group} ${p.done}/${p.total}`),
        onWarning: (w) => warnings.push(w),
      });
      expect(summary.scored).toEqual({ clip: 15, 'text-text': 15, tifa: 15 });
      expect(summary.skipped).toEqual({ clip: 0, 'text-text': 0, tifa: 0 });
      expect(warnings).toEqual([]);
      expect(progress.filter((p) => p.startsWith('clip'))).toEqual([
        'clip 4/15',
        'clip 8/15',
        'clip 12/15',
        'clip 15/15',
      ]);
      // The structured prompt's questions were made and stored; the given ones too.
      const carQuestions = store.questionsFor(SET.name, 'red-car');
      expect(carQuestions.map((q) => q.question)).toEqual(['is there a car?', 'what color is the car?']);
      expect(store.questionsFor(SET.name, 'cat-frog').map((q) => q.question)).toEqual(
        QUESTIONS.map((q) => q.question),
      );
    } finally {
      store.close();
    }
  });

  it("matches A&E's image-text similarities of the goldens (full prompt and minimum half)", async () => {
    const expected = (await spec('ae_clip_metrics')).expected.per_prompt as {
      prompt: string;
      image_similarities: { full: number[] };
      min_first_second: number[];
    }[];
    const full = scores(dir, 'clip-full');
    const minHalf = scores(dir, 'clip-min-half');
    expect(full).toHaveLength(15);
    expect(minHalf).toHaveLength(10); // "a red car" has no halves
    let worst = 0;
    for (const [p, id] of ['cat-frog', 'purple-dog'].entries()) {
      expect(SET.prompts[p].text).toBe(expected[p].prompt);
      for (const seed of SEEDS) {
        const f = full.find((s) => s.job.promptId === id && s.job.seed === seed)!;
        const m = minHalf.find((s) => s.job.promptId === id && s.job.seed === seed)!;
        worst = Math.max(
          worst,
          Math.abs(f.value - expected[p].image_similarities.full[seed]),
          Math.abs(m.value - expected[p].min_first_second[seed]),
        );
      }
    }
    // Fixture README: cosines 1e-5 abs. Measured max |Δ| over the 20 values: 8.9e-8.
    expect(worst).toBeLessThan(1e-5);
  });

  it("matches A&E's text-text similarities and BLIP captions of the goldens", async () => {
    const expected = (await spec('ae_text_text')).expected as {
      captions: string[];
      text_similarities: number[];
    }[];
    const textText = scores(dir, 'text-text');
    let worst = 0;
    for (const [p, id] of ['cat-frog', 'purple-dog'].entries()) {
      for (const seed of SEEDS) {
        const score = textText.find((s) => s.job.promptId === id && s.job.seed === seed)!;
        expect((score.detail as { caption: string }).caption).toBe(expected[p].captions[seed]);
        worst = Math.max(worst, Math.abs(score.value - expected[p].text_similarities[seed]));
      }
    }
    // Fixture README: 1e-5 abs, captions exact. Measured max |Δ| over the 10 values: 1.5e-7.
    expect(worst).toBeLessThan(1e-5);
  });

  it('records TIFA accuracy with the golden VQA answers to each stored question', async () => {
    const golden = await Promise.all(
      SEEDS.map((k) =>
        Promise.all(
          [0, 1, 2, 3].map(async (j) => (await spec(`blip_vqa_img${k}_q${j}`)).expected.answer as string),
        ),
      ),
    );
    const tifa = scores(dir, 'tifa');
    expect(tifa).toHaveLength(15);
    for (const seed of SEEDS) {
      const score = tifa.find((s) => s.job.promptId === 'cat-frog' && s.job.seed === seed)!;
      const answers = (
        score.detail as {
          answers: {
            questionId: number;
            freeFormAnswer: string;
            matchedBy: string;
            chosen: string;
            correct: boolean;
          }[];
        }
      ).answers;
      expect(answers.map((a) => a.freeFormAnswer)).toEqual(golden[seed]);
      answers.forEach((a, j) => {
        if (QUESTIONS[j].choices.includes(golden[seed][j])) {
          expect(a.matchedBy).toBe('exact');
          expect(a.correct).toBe(golden[seed][j] === QUESTIONS[j].answer);
        } else {
          expect(a.matchedBy).toBe('embedding');
          expect(QUESTIONS[j].choices).toContain(a.chosen);
        }
      });
      expect(score.value).toBe(answers.filter((a) => a.correct).length / 4);
    }
    // Image 0 answers "thus soon, thus school, thus school, thus soon" (all choices): only the first is right.
    expect(tifa.find((s) => s.job.promptId === 'cat-frog' && s.job.seed === 0)!.value).toBe(0.25);
    // Every answer names the stored question it answers.
    const store = BenchmarkStore.open(dir);
    const stored = store.questionsFor(SET.name, 'red-car');
    store.close();
    const car = tifa.find((s) => s.job.promptId === 'red-car')!;
    expect((car.detail as { answers: { questionId: number }[] }).answers.map((a) => a.questionId)).toEqual(
      stored.map((q) => q.id),
    );
  });

  it('does nothing on a second run: every image is scored already', async () => {
    const before = ['clip-full', 'clip-min-half', 'text-text', 'tifa'].map((m) => scores(dir, m));
    const store = BenchmarkStore.open(dir);
    let calls = 0;
    const counting: ScoringModels = {
      ...models,
      imageEmbeds: async (images) => {
        calls++;
        return models.imageEmbeds!(images);
      },
    };
    try {
      const summary = await scoreRun(store, counting, { groups: ['clip', 'text-text', 'tifa'] });
      expect(summary.scored).toEqual({ clip: 0, 'text-text': 0, tifa: 0 });
      expect(summary.alreadyScored).toEqual({ clip: 15, 'text-text': 15, tifa: 15 });
    } finally {
      store.close();
    }
    expect(calls).toBe(0);
    expect(['clip-full', 'clip-min-half', 'text-text', 'tifa'].map((m) => scores(dir, m))).toEqual(before);
  });

  it('runs from the command line, scoring only what is new', async () => {
    const cli = await makeRun();
    try {
      const args = [
        'benchmark',
        'score',
        cli,
        '--metrics',
        'clip',
        '--clip-model',
        join(EVAL, 'clip-tiny'),
        '--threads',
        '1',
      ];
      const first = await runDnb(args);
      expect(first.stderr).toContain('clip: 15 images scored (0 before)');
      expect(first.code).toBe(0);
      expect(scores(cli, 'clip-full')).toHaveLength(15);
      const again = await runDnb(args);
      expect(again.stderr).toContain('clip: nothing to score (15 images, all scored)');
      expect(again.code).toBe(0);
      const missing = await runDnb([
        'benchmark',
        'score',
        cli,
        '--metrics',
        'tifa',
        '--clip-model',
        join(EVAL, 'clip-tiny'),
      ]);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain('TIFA (BLIP VQA answers) needs --vqa-model MODEL');
      const unknown = await runDnb(['benchmark', 'score', cli, '--metrics', 'clip,fid']);
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toContain('unknown metric "fid"');
    } finally {
      await rm(cli, { recursive: true, force: true });
    }
  });
});
