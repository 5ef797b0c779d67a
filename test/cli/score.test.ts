import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLIP_TINY, clipGoldenFloats, EVAL, EVAL_IMAGES, evalSpec } from '../eval/clipFixtures.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { maxAbsDiff } from '../helpers/tensors.ts';
import { runDnb } from './runDnb.ts';

const cacheDir = tempDir('dnb-score-cli-');
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

const BLIP_CAPTION_TINY = join(EVAL, 'blip-caption-tiny');
const PROMPT = 'a cat and a frog';
/** "a cat and a frog" is text 3 of the golden CLIPScore matrix [5 images, 8 texts]. */
const PROMPT_COLUMN = 3;

interface ScoreJson {
  results: {
    image: string;
    prompt: string;
    clipScore?: number;
    aeImageText?: {
      full: number;
      firstHalf: number | null;
      secondHalf: number | null;
      minHalf: number | null;
    };
    aeTextText?: { caption: string; similarity: number };
  }[];
}

function score(args: readonly string[]) {
  return runDnb(['score', ...args, '--clip-model', CLIP_TINY, '--cache-dir', cacheDir]);
}

/** Several CLI spawns in one test: each is a fresh Node + tsx start, ~20 s on a loaded 2-core machine. */
const SPAWNS_TIMEOUT = 300_000;

describe('dnb score', () => {
  it('gives CLIPScore, the A&E image-text and the BLIP-caption text-text similarities as the goldens', async () => {
    const run = await score([
      ...EVAL_IMAGES,
      '--prompt',
      PROMPT,
      '--caption-model',
      BLIP_CAPTION_TINY,
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { results } = JSON.parse(run.stdout) as ScoreJson;
    expect(results.map((r) => [r.image, r.prompt])).toEqual(EVAL_IMAGES.map((image) => [image, PROMPT]));

    const clipScores = await clipGoldenFloats('clip_score');
    const goldenClipScores = [0, 1, 2, 3, 4].map((i) => clipScores[i * 8 + PROMPT_COLUMN]);
    // Measured 2.9e-7 (bound 3e-5).
    expect(
      maxAbsDiff(
        results.map((r) => r.clipScore!),
        goldenClipScores,
      ),
    ).toBeLessThanOrEqual(3e-5);

    const ae = evalSpec('ae_clip_metrics').expected.per_prompt[0];
    expect(ae.prompt).toBe(PROMPT);
    const image = (key: 'full' | 'firstHalf' | 'secondHalf' | 'minHalf') =>
      results.map((r) => r.aeImageText![key]!);
    // Measured ≤ 9e-8 (bound 1e-5).
    expect(maxAbsDiff(image('full'), ae.image_similarities.full)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(image('firstHalf'), ae.image_similarities.first_half)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(image('secondHalf'), ae.image_similarities.second_half)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(image('minHalf'), ae.min_first_second)).toBeLessThanOrEqual(1e-5);

    // The default caption setting is A&E's (LAVIS base_coco: "a picture of ", 3 beams, lengths 10…30).
    const textText = evalSpec('ae_text_text').expected[0];
    expect(textText.prompt).toBe(PROMPT);
    expect(results.map((r) => r.aeTextText!.caption)).toEqual(textText.captions);
    // Measured 8.5e-8 (bound 1e-5).
    expect(
      maxAbsDiff(
        results.map((r) => r.aeTextText!.similarity),
        textText.text_similarities,
      ),
    ).toBeLessThanOrEqual(1e-5);
  });

  it('reports only the metrics asked for, and null halves for a prompt without " and " or " with "', {
    timeout: SPAWNS_TIMEOUT,
  }, async () => {
    const only = await score([EVAL_IMAGES[0], '--prompt', PROMPT, '--metrics', 'clip-score', '--json']);
    expect(only.code).toBe(0);
    const [row] = (JSON.parse(only.stdout) as ScoreJson).results;
    expect(Object.keys(row).sort()).toEqual(['clipScore', 'image', 'prompt']);

    const table = await score([
      EVAL_IMAGES[0],
      '--prompt',
      'a lighthouse',
      '--metrics',
      'ae-image-text,clip-score',
    ]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('prompt: a lighthouse');
    expect(lines[1]).toMatch(/^image\s+CLIPScore\s+A&E full\s+1st half\s+2nd half\s+min half$/);
    expect(lines[2]).toMatch(/\d\.\d{4}\s+-\s+-\s+-$/);
  });

  it('fails in one line on an unknown metric, ae-text-text without a caption model, and a missing image', {
    timeout: SPAWNS_TIMEOUT,
  }, async () => {
    for (const [args, message] of [
      [[EVAL_IMAGES[0], '--prompt', PROMPT, '--metrics', 'clip-score,tifa'], /^dnb: unknown metric "tifa"/],
      [
        [EVAL_IMAGES[0], '--prompt', PROMPT, '--metrics', 'ae-text-text'],
        /^dnb: the ae-text-text metric needs/,
      ],
      [['/nonexistent/image.png', '--prompt', PROMPT], /^dnb: .*\/nonexistent\/image\.png/],
    ] as const) {
      const run = await score(args);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    }
  });
});
