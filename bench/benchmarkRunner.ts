// What the benchmark runner costs: `npx tsx bench/benchmarkRunner.ts [--jobs 6] [--steps 10] [--rounds 3]`.
// On the tiny model (test/fixtures/tiny-sd), one loaded pipeline, it times rounds of N jobs through
// runBenchmark (PNG encode and metadata, atomic write with fsync, SQLite commit) against rounds of N bare
// `generate` calls, alternating so drift on a shared machine hits both; and it times the runner's bookkeeping
// alone, with a generator that returns a ready PNG. Prints a summary and writes bench/out/benchmark-runner.json.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type JobGenerator, type JobOutput, modelJobGenerator } from '../src/benchmark/jobGenerator.ts';
import { imagePathOf, jobRequest } from '../src/benchmark/jobs.ts';
import type { PromptSet } from '../src/benchmark/promptSet.ts';
import { promptsDigest } from '../src/benchmark/runFolder.ts';
import { runBenchmark } from '../src/benchmark/runner.ts';
import { type BenchmarkSettings, settingsFingerprint } from '../src/benchmark/runSettings.ts';
import { StableDiffusion } from '../src/pipeline/stableDiffusion.ts';
import { summarize } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '6' },
    steps: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string' },
  },
});
const jobs = Number(args.jobs);
const rounds = Number(args.rounds);
const model = join(import.meta.dirname, '..', 'test', 'fixtures', 'tiny-sd');

const SET: PromptSet = {
  name: 'bench',
  label: 'Bench',
  source: 'bench/benchmarkRunner.ts',
  reconstructed: false,
  prompts: [{ id: 'cat_dog', text: 'a cat and a dog', objects: [], attributes: [] }],
};
const settings: Omit<BenchmarkSettings, 'prompts'> = {
  model,
  sets: [SET.name],
  methods: ['sd'],
  seeds: Array.from({ length: jobs }, (_, k) => k),
  generation: {
    negativePrompt: '',
    rng: 'cpu',
    steps: Number(args.steps),
    guidanceScale: 7.5,
    gsn: {},
    dtype: 'fp32',
  },
};
const run = settingsFingerprint({ ...settings, prompts: promptsDigest([SET]) });
const descriptions = settings.seeds.map((seed) => ({
  key: { setName: SET.name, promptId: 'cat_dog', method: 'sd' as const, seed },
  prompt: SET.prompts[0],
  settings: { ...settings, prompts: promptsDigest([SET]) },
  run,
}));

const root = await mkdtemp(join(tmpdir(), 'dnb-bench-runner-'));
const sd = await StableDiffusion.load(model, {
  cacheDir: join(root, 'cache'),
  threads: args.threads ? Number(args.threads) : undefined,
});
const generate = modelJobGenerator(sd);

const seconds = async (fn: () => Promise<unknown>) => {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
};
const bareLoop = () =>
  seconds(async () => {
    for (const job of descriptions) await sd.generate(jobRequest(job));
  });
let folder = 0;
const runnerLoop = (make: JobGenerator) =>
  seconds(() =>
    runBenchmark({
      dir: join(root, `run-${folder++}`),
      settings,
      sets: [SET],
      loadGenerator: async () => ({ generate: make, release: async () => {} }),
    }),
  );

await bareLoop(); // warm-up: graphs compiled and sessions created before any timing
const bare: number[] = [];
const runner: number[] = [];
for (let r = 0; r < rounds; r++) {
  bare.push(await bareLoop());
  runner.push(await runnerLoop(generate));
}
// The bookkeeping alone: the same jobs with their PNGs made beforehand.
const ready = new Map<number, JobOutput>();
for (const job of descriptions) ready.set(job.key.seed, await generate(job));
const bookkeeping: number[] = [];
for (let r = 0; r < rounds; r++) bookkeeping.push(await runnerLoop(async (job) => ready.get(job.key.seed)!));
await sd.release();

const [b, w, k] = [summarize(bare), summarize(runner), summarize(bookkeeping)];
const result = {
  model: 'test/fixtures/tiny-sd (64×64)',
  jobsPerRound: jobs,
  steps: settings.generation.steps,
  rounds,
  bareGenerateJobsPerSecond: jobs / b.median,
  runnerJobsPerSecond: jobs / w.median,
  runnerOverheadPercent: (100 * (w.median - b.median)) / b.median,
  bookkeepingMsPerJob: (1000 * k.median) / jobs,
  bookkeepingPercentOfGenerate: (100 * k.median) / b.median,
  timings: { bare: b, runner: w, bookkeeping: k },
  example: imagePathOf(descriptions[0].key),
};
await mkdir(join(import.meta.dirname, 'out'), { recursive: true });
await writeFile(
  join(import.meta.dirname, 'out', 'benchmark-runner.json'),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(
  `generate loop: ${result.bareGenerateJobsPerSecond.toFixed(3)} jobs/s; runner: ${result.runnerJobsPerSecond.toFixed(3)} jobs/s ` +
    `(time per job ${result.runnerOverheadPercent >= 0 ? '+' : ''}${result.runnerOverheadPercent.toFixed(1)}% against the loop; below the spread it is noise; spread ${(100 * b.spread).toFixed(0)}% / ${(100 * w.spread).toFixed(0)}%)\n` +
    `runner bookkeeping alone (PNG metadata, atomic write + fsync, SQLite commit): ${result.bookkeepingMsPerJob.toFixed(1)} ms/job, ` +
    `${result.bookkeepingPercentOfGenerate.toFixed(2)}% of a ${settings.generation.steps}-step tiny-model job`,
);
