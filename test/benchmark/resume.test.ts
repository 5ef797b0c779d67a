import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { FIXTURES, TINY_SD, tempDir } from '../helpers/fixtures.ts';

const DNB = join(FIXTURES, '..', '..', 'bin', 'dnb.js');

/** mulberry32: the kill times are random but the same on every run of the test. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** When to kill a run: `delayMs` after it has listed `images` images (0: after it said how many jobs are left). */
interface Kill {
  images: number;
  delayMs: number;
}

/** `dnb benchmark run ARGS`, killed with SIGKILL as `kill` says (and after 120 s in any case). */
function runDnb(args: readonly string[], kill?: Kill): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DNB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let [stdout, stderr] = ['', ''];
    let armed = false;
    const timers = [setTimeout(() => child.kill('SIGKILL'), 120_000)];
    const check = () => {
      const started = /\d+ jobs, \d+ to do/.test(stderr);
      if (!kill || armed || !started || stdout.split('\n').length - 1 < kill.images) return;
      armed = true;
      timers.push(setTimeout(() => child.kill('SIGKILL'), kill.delayMs));
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      check();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      check();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const timer of timers) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * The same run, killed with SIGKILL at random moments and started again each time, until it finishes: every
 * job stored once, every PNG whole, and no image generated twice (stdout lists each image as it is written;
 * a path listed twice would be an image made again).
 */
describe('dnb benchmark run after SIGKILL', () => {
  const root = tempDir('dnb-resume-');
  const out = join(root, 'run');
  const runs: Run[] = [];

  beforeAll(async () => {
    const prompts = join(root, 'prompts.json');
    await writeFile(
      prompts,
      JSON.stringify({
        name: 'tiny',
        label: 'Tiny',
        source: 'test',
        reconstructed: false,
        prompts: [
          { id: 'cat_dog', text: 'a cat and a dog', objects: [], attributes: [] },
          { id: 'frog', text: 'a frog on a log', objects: [], attributes: [] },
        ],
      }),
    );
    const args = [
      'benchmark',
      'run',
      '--prompts',
      prompts,
      '--methods',
      'sd',
      '--seeds',
      '0-4',
      '--steps',
      '2',
      '--model',
      TINY_SD,
      '--out',
      out,
      '--threads',
      '1',
      '--cache-dir',
      join(root, 'cache'),
    ];
    const next = random(2702);
    // A job takes about 1 s here: kills land during a job, between the PNG and the commit, or between jobs.
    for (let k = 0; k < 4; k++) {
      runs.push(await runDnb(args, { images: Math.floor(next() * 3), delayMs: next() * 1500 }));
    }
    runs.push(await runDnb(args));
  }, 400_000);

  it('was killed at least twice, and the last run finished', () => {
    expect(runs.filter((r) => r.signal === 'SIGKILL').length).toBeGreaterThanOrEqual(2);
    const last = runs[runs.length - 1];
    expect(last.stderr).not.toMatch(/\n\s+at /);
    expect(last.code).toBe(0);
    expect(last.stderr).toContain('done: 10 of 10 images stored');
    // The kills interrupted real work: killed runs stored images, so the last one had fewer than 10 to make.
    const killedWrote = runs
      .slice(0, -1)
      .reduce((n, r) => n + r.stdout.split('\n').filter(Boolean).length, 0);
    expect(killedWrote).toBeGreaterThan(0);
    expect(last.stderr).toMatch(/10 jobs, \d to do/);
  });

  it('stored every job once and made no image twice', () => {
    const store = BenchmarkStore.open(out);
    const status = store.status();
    const results = store.results();
    store.close();
    expect(status).toEqual({ expected: 10, done: 10, failed: 0, pending: 0, duplicates: 0 });
    expect(new Set(results.map((r) => r.imagePath)).size).toBe(10);
    const written = runs.flatMap((r) => r.stdout.split('\n').filter(Boolean));
    expect(written.length).toBe(new Set(written).size);
    // Every image was listed by the run that wrote it, or adopted after a kill between its write and commit.
    const adopted = runs.reduce((n, r) => n + Number(/adopted (\d+) images/.exec(r.stderr)?.[1] ?? 0), 0);
    expect(written.length + adopted).toBeGreaterThanOrEqual(10);
  });

  it('left only whole PNGs, and no temporary files', async () => {
    for (const promptId of ['cat_dog', 'frog']) {
      const folder = join(out, 'images', 'tiny', 'sd', promptId);
      // Temporary files of writes a kill interrupted are removed when the next run starts.
      const names = await readdir(folder);
      expect(names.sort()).toEqual(['0.png', '1.png', '2.png', '3.png', '4.png']);
      for (const name of names) {
        const { info } = await sharp(join(folder, name)).raw().toBuffer({ resolveWithObject: true });
        expect([info.width, info.height]).toEqual([64, 64]);
      }
    }
  });
});
