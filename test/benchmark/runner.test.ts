import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { type LoadedGenerator, loadModelGenerator } from '../../src/benchmark/jobGenerator.ts';
import { readJobRecord, withJobRecord } from '../../src/benchmark/jobImage.ts';
import { imagePathOf, type JobDescription } from '../../src/benchmark/jobs.ts';
import type { PromptSet } from '../../src/benchmark/promptSet.ts';
import { writeImageAtomically } from '../../src/benchmark/runFolder.ts';
import { type RunOptions, runBenchmark } from '../../src/benchmark/runner.ts';
import type { BenchmarkSettings } from '../../src/benchmark/runSettings.ts';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { readPngTextChunks } from '../../src/cli/pngTextChunks.ts';
import { createProgram } from '../../src/cli/program.ts';
import { reportError } from '../../src/cli/reportError.ts';
import { TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { userErrorOf } from '../helpers/userError.ts';

const SET: PromptSet = {
  name: 'tiny',
  label: 'Tiny',
  source: 'test',
  reconstructed: false,
  prompts: [
    {
      id: 'cat_dog',
      text: 'a cat and a dog',
      objects: [
        { word: 'cat', count: 1 },
        { word: 'dog', count: 1 },
      ],
      attributes: [],
    },
    {
      id: 'red_car',
      text: 'a red car and a blue bowl',
      objects: [
        { word: 'car', count: 1 },
        { word: 'bowl', count: 1 },
      ],
      attributes: [
        { word: 'red', object: 0 },
        { word: 'blue', object: 1 },
      ],
      tokenIndices: [3, 7],
      attributeIndices: [2, 6],
    },
  ],
};

/** Two steps, one guided loop index, one refinement at most: the whole loop runs, in seconds. */
const SETTINGS: Omit<BenchmarkSettings, 'prompts'> = {
  model: TINY_SD,
  sets: ['tiny'],
  methods: ['sd', 'attend-excite', 'divide-bind'],
  seeds: [0, 1],
  generation: {
    negativePrompt: '',
    rng: 'cpu',
    steps: 2,
    guidanceScale: 7.5,
    gsn: { maxIterToAlter: 1, refinementCaps: [1, 1] },
    dtype: 'fp32',
  },
};

const cacheDir = tempDir('dnb-runner-cache-');

/** The tiny model, loaded once per run, counting loads and generations. */
function tinyModel(counts = { loads: 0, jobs: 0 }) {
  const loadGenerator = async (): Promise<LoadedGenerator> => {
    counts.loads++;
    const loaded = await loadModelGenerator(TINY_SD, { dtype: 'fp32', threads: 1, cacheDir });
    return {
      generate: (job) => {
        counts.jobs++;
        return loaded.generate(job);
      },
      release: loaded.release,
    };
  };
  return { counts, loadGenerator };
}

/** A model-free generator: a flat 8×8 PNG with the job record, so the runner's bookkeeping is tested fast. */
function fakeGenerator(fail?: (job: JobDescription) => boolean) {
  const generated: string[] = [];
  const loadGenerator = async (): Promise<LoadedGenerator> => ({
    async generate(job) {
      if (fail?.(job)) throw new Error('the fake model refuses this job');
      generated.push(imagePathOf(job.key));
      const raw = Buffer.alloc(8 * 8 * 3, job.key.seed * 40);
      const png = await sharp(raw, { raw: { width: 8, height: 8, channels: 3 } })
        .png()
        .toBuffer();
      const timings = { totalMs: 1, phases: { denoise: 1 } };
      const record = { run: job.run, key: job.key, timings, traceSummary: null, worker: 'fake' };
      return { png: withJobRecord(png, record), timings, traceSummary: null, worker: 'fake' };
    },
    async release() {},
  });
  return { generated, loadGenerator };
}

const statusOf = (dir: string) => {
  const store = BenchmarkStore.open(dir);
  try {
    return store.status();
  } finally {
    store.close();
  }
};

describe('runBenchmark on the tiny model', () => {
  const dir = join(tempDir('dnb-runner-'), 'run');
  const model = tinyModel();
  const options = (): RunOptions => ({
    dir,
    settings: SETTINGS,
    sets: [SET],
    loadGenerator: model.loadGenerator,
  });
  let first: Awaited<ReturnType<typeof runBenchmark>>;

  beforeAll(async () => {
    first = await runBenchmark(options());
  }, 300_000);

  it('stores 12 results from one model load, with status JSON to match', () => {
    expect(first.generated).toBe(12);
    expect(model.counts).toEqual({ loads: 1, jobs: 12 });
    expect(first.status).toEqual({ expected: 12, done: 12, failed: 0, pending: 0, duplicates: 0 });
  });

  it('writes readable 64×64 PNGs at images/SET/METHOD/PROMPT_ID/SEED.png with their metadata', async () => {
    const store = BenchmarkStore.open(dir);
    const results = store.results();
    store.close();
    expect(results.map((r) => r.imagePath).sort()).toEqual(
      ['sd', 'attend-excite', 'divide-bind']
        .flatMap((m) =>
          ['cat_dog', 'red_car'].flatMap((p) => [0, 1].map((s) => `images/tiny/${m}/${p}/${s}.png`)),
        )
        .sort(),
    );
    for (const result of results) {
      const path = join(dir, result.imagePath);
      const { info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([64, 64, 3]);
      const dnb = readPngTextChunks(await readFile(path)).find((t) => t.keyword === 'dnb');
      const meta = JSON.parse(dnb?.text ?? '{}');
      expect([meta.method, meta.seed, meta.steps, meta.model]).toEqual([
        result.method,
        result.seed,
        2,
        TINY_SD,
      ]);
      expect((await readJobRecord(path))?.key).toEqual({
        setName: result.setName,
        promptId: result.promptId,
        method: result.method,
        seed: result.seed,
      });
      expect(result.timings.totalMs).toBeGreaterThan(0);
      if (result.method === 'sd') {
        expect(result.traceSummary).toBeNull();
      } else {
        // maxIterToAlter 1: one guided loop index, refined at most once.
        expect(result.traceSummary).toHaveLength(1);
        expect(result.traceSummary?.[0].loopIndex).toBe(0);
        expect(result.traceSummary?.[0].refinementIterations).toBeLessThanOrEqual(1);
        expect(Number.isFinite(result.traceSummary?.[0].loss)).toBe(true);
      }
    }
  });

  it("uses the prompt's token indices where given", async () => {
    const meta = readPngTextChunks(await readFile(join(dir, 'images/tiny/divide-bind/red_car/0.png'))).find(
      (t) => t.keyword === 'dnb',
    );
    expect(JSON.parse(meta?.text ?? '{}').tokens).toMatchObject({
      tokenIndices: [3, 7],
      attributeIndices: [2, 6],
    });
  });

  it('dnb benchmark status DIR --json prints the counts', async () => {
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((text) => {
      printed.push(String(text));
      return true;
    });
    try {
      await createProgram().parseAsync(['node', 'dnb', 'benchmark', 'status', dir, '--json']);
      await createProgram().parseAsync(['node', 'dnb', 'benchmark', 'status', dir]);
    } finally {
      write.mockRestore();
    }
    expect(printed).toEqual([
      '{"expected":12,"done":12,"failed":0,"pending":0,"duplicates":0}\n',
      '12 of 12 images done, 0 failed, 0 pending\n',
    ]);
  });

  it('does nothing the second time, without loading the model', async () => {
    const again = await runBenchmark(options());
    expect([again.generated, again.adopted, again.failed]).toEqual([0, 0, 0]);
    expect(model.counts).toEqual({ loads: 1, jobs: 12 });
  });

  it('refuses the folder with another setting, naming it', async () => {
    const other = { ...SETTINGS, generation: { ...SETTINGS.generation, steps: 3 } };
    const error = await userErrorOf(runBenchmark({ ...options(), settings: other }));
    expect(error.message).toContain('generation.steps: the folder has 2, this command 3');
    const seeds = await userErrorOf(
      runBenchmark({ ...options(), settings: { ...SETTINGS, seeds: [0, 1, 2] } }),
    );
    expect(seeds.message).toContain('seeds: the folder has [0,1], this command [0,1,2]');
    const edited = structuredClone(SET);
    edited.prompts[0].text = 'a cat and a frog';
    const prompts = await userErrorOf(runBenchmark({ ...options(), sets: [edited] }));
    expect(prompts.message).toMatch(
      /^\S+ holds a benchmark run with other settings \(prompts: the folder has/,
    );
  });
});

describe('runBenchmark bookkeeping (model-free generator)', () => {
  const settings = { ...SETTINGS, methods: ['sd' as const], seeds: [0, 1, 2, 3] };

  it('records a failed job with its error and goes on', async () => {
    const dir = tempDir('dnb-runner-fail-');
    const fake = fakeGenerator((job) => job.key.seed === 2);
    const events: string[] = [];
    const summary = await runBenchmark({
      dir,
      settings,
      sets: [SET],
      loadGenerator: fake.loadGenerator,
      onEvent: (e) => e.type === 'failed' && events.push(e.error),
    });
    expect(summary.status).toEqual({ expected: 8, done: 6, failed: 2, pending: 0, duplicates: 0 });
    expect(events).toEqual([
      'tiny/cat_dog/sd/2: the fake model refuses this job',
      'tiny/red_car/sd/2: the fake model refuses this job',
    ]);
    const store = BenchmarkStore.open(dir);
    expect(store.jobs({ status: 'failed' }).map((j) => j.error)).toEqual([
      'the fake model refuses this job',
      'the fake model refuses this job',
    ]);
    store.close();
    // Failed jobs stay failed unless asked: then only they run.
    expect(
      (await runBenchmark({ dir, settings, sets: [SET], loadGenerator: fake.loadGenerator })).generated,
    ).toBe(0);
    const retried = await runBenchmark({
      dir,
      settings,
      sets: [SET],
      loadGenerator: fakeGenerator().loadGenerator,
      retryFailed: true,
    });
    expect([retried.generated, retried.status.done]).toEqual([2, 8]);
  });

  it('stops on a full disk with a clear message, keeps what is stored, and resumes', async () => {
    const dir = tempDir('dnb-runner-full-');
    const fake = fakeGenerator();
    let writes = 0;
    const fullAfterThree = async (path: string, bytes: Uint8Array) => {
      if (++writes > 3) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      await writeImageAtomically(path, bytes);
    };
    const error = await userErrorOf(
      runBenchmark({
        dir,
        settings,
        sets: [SET],
        loadGenerator: fake.loadGenerator,
        writeImage: fullAfterThree,
      }),
    );
    expect(error.message).toMatch(
      /^cannot write \S+images\/tiny\/sd\/cat_dog\/3\.png: ENOSPC: no space left on device, write\. The run stopped; the 3 of 8 images stored so far are kept\. .* run the same command again to resume\.$/,
    );
    expect(statusOf(dir)).toMatchObject({ done: 3, pending: 5 });
    for (const seed of [0, 1, 2]) await sharp(join(dir, `images/tiny/sd/cat_dog/${seed}.png`)).metadata();

    const resumed = await runBenchmark({ dir, settings, sets: [SET], loadGenerator: fake.loadGenerator });
    expect([resumed.generated, resumed.status.done]).toEqual([5, 8]);
    // 3 before the disk filled, the failed write's image, and the 4 left: the 3 stored ones are not redone.
    expect(fake.generated.filter((p) => p.endsWith('cat_dog/0.png'))).toHaveLength(1);
    expect(fake.generated).toHaveLength(9);
  });

  it('adopts an image written just before a kill instead of generating it again', async () => {
    const dir = tempDir('dnb-runner-adopt-');
    const fake = fakeGenerator();
    // Writes the PNG whole, then "dies" before the store's commit.
    const killedAfterRename = async (path: string, bytes: Uint8Array) => {
      await writeImageAtomically(path, bytes);
      throw new Error('killed');
    };
    await userErrorOf(
      runBenchmark({
        dir,
        settings,
        sets: [SET],
        loadGenerator: fake.loadGenerator,
        writeImage: killedAfterRename,
      }),
    );
    expect(statusOf(dir)).toMatchObject({ done: 0, pending: 8 });
    // A kill during a write leaves its temporary file: the next run removes it.
    const temporary = join(dir, 'images/tiny/sd/cat_dog/.1.png.0123456789ab.tmp');
    await writeFile(temporary, 'half a png');
    const resumed = await runBenchmark({ dir, settings, sets: [SET], loadGenerator: fake.loadGenerator });
    expect([resumed.adopted, resumed.generated, resumed.status.done]).toEqual([1, 7, 8]);
    expect(fake.generated.filter((p) => p.endsWith('cat_dog/0.png'))).toHaveLength(1);
    expect(await readdir(join(dir, 'images/tiny/sd/cat_dog'))).toEqual(['0.png', '1.png', '2.png', '3.png']);
    // A PNG cut short, or of another run, is not adopted: it is generated again and replaced.
    const other = tempDir('dnb-runner-adopt2-');
    await userErrorOf(
      runBenchmark({
        dir: other,
        settings,
        sets: [SET],
        loadGenerator: fake.loadGenerator,
        writeImage: killedAfterRename,
      }),
    );
    const png = await readFile(join(other, 'images/tiny/sd/cat_dog/0.png'));
    await writeFile(join(other, 'images/tiny/sd/cat_dog/0.png'), png.subarray(0, png.length - 5));
    expect(
      (await runBenchmark({ dir: other, settings, sets: [SET], loadGenerator: fake.loadGenerator })).adopted,
    ).toBe(0);
    await sharp(join(other, 'images/tiny/sd/cat_dog/0.png')).metadata();
  });
});

describe('dnb benchmark run: input errors are one line', () => {
  const root = tempDir('dnb-runner-cli-');
  const run = async (...args: string[]) => {
    let text = '';
    try {
      await createProgram().parseAsync(['node', 'dnb', 'benchmark', 'run', '--model', TINY_SD, ...args], {
        from: 'node',
      });
    } catch (error) {
      reportError(error, (t) => (text += t));
    }
    return text;
  };

  it('a --out that is a file', async () => {
    const file = join(root, 'not-a-folder');
    await writeFile(file, 'x');
    const prompts = join(root, 'ok.json');
    await writeFile(prompts, JSON.stringify(SET));
    expect(await run('--prompts', prompts, '--out', file)).toBe(
      `dnb: ${file} is a file, not a folder; give --out a folder for the benchmark run\n`,
    );
  });

  it('an unknown set', async () => {
    const text = await run('--set', 'animal-animal,no-such-set', '--out', join(root, 'a'));
    expect(text).toMatch(/^dnb: unknown prompt set "no-such-set"; the known sets are animal-animal, .*\n$/);
  });

  it('a malformed prompts file', async () => {
    const prompts = join(root, 'bad.json');
    await writeFile(prompts, '{"name": "x", "prompts": [');
    expect(await run('--prompts', prompts, '--out', join(root, 'b'))).toMatch(
      /^dnb: \S+bad\.json is not JSON \(.*\n$/,
    );
  });

  it('no prompts, or a bad seed list', async () => {
    expect(await run('--out', join(root, 'c'))).toBe(
      'dnb: give the prompts: --set NAME[,NAME…] or --prompts FILE\n',
    );
    expect(await run('--set', 'animal-animal', '--seeds', '5-2', '--out', join(root, 'd'))).toMatch(
      /^dnb: option '--seeds <list>' argument '5-2' is invalid\. expected seeds like 0-63/,
    );
  });
});
