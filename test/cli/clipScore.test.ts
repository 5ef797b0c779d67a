import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLIP_TINY, clipGoldenFloats, EVAL_IMAGES, evalSpec } from '../eval/clipFixtures.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { maxAbsDiff } from '../helpers/tensors.ts';
import { runDnb } from './runDnb.ts';

const cacheDir = tempDir('dnb-clip-score-cli-');
const folders = [cacheDir];
afterAll(() => Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true }))));

const TEXTS: string[] = evalSpec('clip_similarity').inputs.texts.slice(0, 3);

interface ClipScoreJson {
  results: { image: string; text: string; cosine: number; clipScore: number }[];
}

/** Column j < 3 of the golden [5, 8] image × text matrix, in the command's image-major order. */
async function goldenColumns(name: string): Promise<number[]> {
  const matrix = await clipGoldenFloats(name);
  return [0, 1, 2, 3, 4].flatMap((i) => [0, 1, 2].map((j) => matrix[i * 8 + j]));
}

function expectOneErrorLine(
  run: { code: number | null; stdout: string; stderr: string },
  message: RegExp,
): void {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(message);
}

/** Several CLI spawns in one test: each is a fresh Node + tsx start, ~20 s on a loaded 2-core machine. */
const SPAWNS_TIMEOUT = 300_000;

describe('dnb clip-score', () => {
  it('prints the cosine and CLIPScore of every image × text as JSON, as transformers computes them', async () => {
    const args = [...EVAL_IMAGES, ...TEXTS.flatMap((t) => ['--text', t]), '--model', CLIP_TINY, '--json'];
    const run = await runDnb(['clip-score', ...args, '--cache-dir', cacheDir]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { results } = JSON.parse(run.stdout) as ClipScoreJson;
    expect(results.map((r) => [r.image, r.text])).toEqual(
      EVAL_IMAGES.flatMap((image) => TEXTS.map((t) => [image, t])),
    );
    // Real image files through the CLIP image processor: same bounds as on the golden pixel values.
    // Measured: cosine 1.3e-7 (bound 1e-5), CLIPScore 2.7e-7 (bound 3e-5).
    expect(
      maxAbsDiff(
        results.map((r) => r.cosine),
        await goldenColumns('cosine'),
      ),
    ).toBeLessThanOrEqual(1e-5);
    expect(
      maxAbsDiff(
        results.map((r) => r.clipScore),
        await goldenColumns('clip_score'),
      ),
    ).toBeLessThanOrEqual(3e-5);
  });

  it('prefixes the texts with "A photo depicts " on request and prints a table without --json', {
    timeout: SPAWNS_TIMEOUT,
  }, async () => {
    const args = [
      EVAL_IMAGES[0],
      EVAL_IMAGES[1],
      '--text',
      TEXTS[0],
      '--model',
      CLIP_TINY,
      '--cache-dir',
      cacheDir,
    ];
    const prefixed = await runDnb(['clip-score', ...args, '--hessel-prefix', '--json']);
    expect(prefixed.code).toBe(0);
    const { results } = JSON.parse(prefixed.stdout) as ClipScoreJson;
    expect(results[0].text).toBe(TEXTS[0]);
    const hessel = await clipGoldenFloats('clip_score_hessel');
    // Measured 5.4e-8.
    expect(
      maxAbsDiff(
        results.map((r) => r.clipScore),
        [hessel[0], hessel[8]],
      ),
    ).toBeLessThanOrEqual(3e-5);

    const table = await runDnb(['clip-score', ...args]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^image\s+text\s+cosine\s+CLIPScore$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(EVAL_IMAGES[0]);
    expect(lines[1]).toContain(TEXTS[0]);
  });

  it('fails in one line without --text, on a file that is not an image, and on a model without weights', {
    timeout: SPAWNS_TIMEOUT,
  }, async () => {
    expectOneErrorLine(
      await runDnb(['clip-score', EVAL_IMAGES[0], '--model', CLIP_TINY, '--cache-dir', cacheDir]),
      /^dnb: clip-score needs at least one --text/,
    );
    const notImage = join(CLIP_TINY, 'config.json');
    expectOneErrorLine(
      await runDnb([
        'clip-score',
        notImage,
        '--text',
        'a cat',
        '--model',
        CLIP_TINY,
        '--cache-dir',
        cacheDir,
      ]),
      /^dnb: .*config\.json is not an image/,
    );
    const noWeights = tempDir('dnb-clip-no-weights-');
    folders.push(noWeights);
    await mkdir(noWeights, { recursive: true });
    for (const file of [
      'config.json',
      'vocab.json',
      'merges.txt',
      'tokenizer_config.json',
      'preprocessor_config.json',
    ]) {
      await copyFile(join(CLIP_TINY, file), join(noWeights, file));
    }
    expectOneErrorLine(
      await runDnb([
        'clip-score',
        EVAL_IMAGES[0],
        '--text',
        'a cat',
        '--model',
        noWeights,
        '--cache-dir',
        cacheDir,
      ]),
      /^dnb: .*no safetensors weights found/,
    );
  });
});
