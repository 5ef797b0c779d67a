import { rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ScoringModels } from '../../src/benchmark/scoreModels.ts';
import { scoreRun, unscoredCounts } from '../../src/benchmark/scoreRun.ts';
import { CachedTextEmbedder } from '../../src/benchmark/scoreTextCache.ts';
import { BenchmarkStore } from '../../src/benchmark/store.ts';
import { makeTestRun, type TestRun } from './reportRun.ts';

/**
 * The scoring driver with one-number fake models (the real ones are in score.test.ts): what is batched, what is
 * skipped and said, what is stored.
 */
function fakeModels(log: string[]): ScoringModels {
  // Every text and image embeds to the same direction: every cosine is 1.
  const unit = () => Float32Array.of(1, 0, 0);
  return {
    text: { embedTexts: async (texts) => texts.map(unit) },
    imageEmbeds: async (images) => {
      log.push(`images ${images.length}`);
      return images.map(unit);
    },
    caption: async () => 'a cat',
    answer: async (_image, questions) => questions.map(() => 'yes'),
    release: async () => {},
  };
}

describe('scoreRun', () => {
  let run: TestRun;
  let store: BenchmarkStore;

  beforeEach(async () => {
    run = await makeTestRun({ scored: false });
    store = BenchmarkStore.open(run.dir);
  });
  afterEach(async () => {
    store.close();
    await rm(run.dir, { recursive: true, force: true });
  });

  it('batches images, skips an unreadable one with a warning, and scores the rest', async () => {
    const log: string[] = [];
    const warnings: string[] = [];
    const jobId = run.jobIds.get('animal-animal/a-cat-and-a-dog/sd/0')!;
    await unlink(join(run.dir, 'images/animal-animal/sd/a-cat-and-a-dog/0.png'));
    expect(unscoredCounts(store, ['clip'])).toEqual({ clip: 35, 'text-text': 0, tifa: 0 });
    const summary = await scoreRun(store, fakeModels(log), {
      groups: ['clip', 'text-text'],
      batchSize: 8,
      onWarning: (w) => warnings.push(w),
    });
    expect(summary.scored).toEqual({ clip: 34, 'text-text': 34, tifa: 0 });
    expect(summary.skipped).toEqual({ clip: 1, 'text-text': 1, tifa: 0 });
    expect(warnings[0]).toMatch(
      new RegExp(`^job ${jobId} \\(images/animal-animal/sd/a-cat-and-a-dog/0.png\\): .*not scored$`),
    );
    // 35 images in batches of 8, each batch split by prompt (a prompt has 9 images: 3 methods × 3 seeds).
    expect(log.reduce((n, entry) => n + Number(entry.split(' ')[1]), 0)).toBe(34);
    expect(Math.max(...log.map((entry) => Number(entry.split(' ')[1])))).toBeLessThanOrEqual(8);
    const full = store.scoresFor('clip-full');
    expect(full).toHaveLength(34);
    expect(full[0].value).toBeCloseTo(1, 6);
    expect(full[0].detail).toMatchObject({
      firstHalf: expect.closeTo(1, 6),
      secondHalf: expect.closeTo(1, 6),
    });
    expect(store.scoresFor('text-text')[0].detail).toEqual({ caption: 'a cat' });
    expect(unscoredCounts(store, ['clip', 'text-text'])).toEqual({ clip: 1, 'text-text': 1, tifa: 0 });
  });

  it('skips, with a warning, TIFA for prompts that have no questions and no structure to make them from', async () => {
    const warnings: string[] = [];
    const summary = await scoreRun(store, fakeModels([]), {
      groups: ['tifa'],
      onWarning: (w) => warnings.push(w),
    });
    // The test run's prompts carry no objects: no question can be made, nothing is stored.
    expect(summary.scored.tifa).toBe(0);
    expect(summary.skipped.tifa).toBe(35);
    expect(warnings[0]).toContain('animal-animal/a-cat-and-a-dog has no TIFA questions');
    expect(store.questionsFor('animal-animal', 'a-cat-and-a-dog')).toEqual([]);
  });

  it('says which model is missing', async () => {
    const models = { ...fakeModels([]), caption: undefined };
    await expect(scoreRun(store, models, { groups: ['text-text'] })).rejects.toThrow(/BLIP captions/);
  });
});

describe('CachedTextEmbedder', () => {
  it('embeds each distinct text once, and keeps at most its capacity', async () => {
    const asked: string[][] = [];
    const cache = new CachedTextEmbedder(
      {
        embedTexts: async (texts) => {
          asked.push([...texts]);
          return texts.map((t) => Float32Array.of(t.length));
        },
      },
      2,
    );
    expect((await cache.embedTexts(['a', 'bb', 'a'])).map((e) => e[0])).toEqual([1, 2, 1]);
    expect((await cache.embedTexts(['bb', 'ccc'])).map((e) => e[0])).toEqual([2, 3]);
    expect(asked).toEqual([['a', 'bb'], ['ccc']]);
    await cache.embedTexts(['a']); // dropped when ccc came in
    expect(asked.at(-1)).toEqual(['a']);
    expect(cache.computed).toBe(4);
  });
});
