/**
 * `dnb benchmark score`: scores every finished image of a run that a metric has not scored yet, and records
 * each score in the store as soon as it is known, so an interrupted scoring run resumes where it stopped and a
 * repeated one does nothing.
 *
 * - `clip`: A&E's image-text similarities (`aeImageTextSimilarity`): `clip-full` (the whole prompt) and
 *   `clip-min-half` (the weaker of the prompt's halves; not recorded for a prompt without " and "/" with ").
 * - `text-text`: A&E's BLIP-caption/prompt similarity (`aeTextTextSimilarity`), the caption in the detail.
 * - `tifa`: TIFA accuracy (`tifaAccuracy`) on the prompt's questions — TIFA v1.0's own, or those of the prompt's
 *   structure for the templated sets — stored in the `questions` table first, so every answer in a score's
 *   detail names the stored question it answers.
 *
 * Images go through the models in batches: one CLIP image-feature call per batch, template embeddings computed
 * once per prompt (CachedTextEmbedder).
 */
import { join } from 'node:path';
import { aeImageTextSimilarity } from '../metrics/aeImageText.ts';
import { aeTextTextSimilarity } from '../metrics/aeTextText.ts';
import { type TifaQuestion as MetricQuestion, tifaAccuracy } from '../metrics/tifa.ts';
import { loadRgbImage, type RgbImage } from '../models/imageProcessing/rgbImage.ts';
import type { PromptSet } from './promptSet.ts';
import { listPromptSets, loadPromptSet } from './promptSets.ts';
import type { BenchmarkMetric } from './scoreMetrics.ts';
import type { ScoreGroup, ScoringModels } from './scoreModels.ts';
import type { BenchmarkStore, ResultRow } from './store.ts';
import { promptQuestions } from './structuredQuestions.ts';

export interface ScoreRunOptions {
  groups: readonly ScoreGroup[];
  /** Images per batch (default 16). */
  batchSize?: number;
  /** Called after each batch. */
  onProgress?: (progress: ScoreProgress) => void;
  /** Problems that do not stop the run (an unreadable image, a prompt without questions). */
  onWarning?: (message: string) => void;
}

export interface ScoreProgress {
  group: ScoreGroup;
  done: number;
  total: number;
}

export interface ScoreRunSummary {
  /** Images scored now, per group. */
  scored: Record<ScoreGroup, number>;
  /** Images a group had scored before this run (skipped). */
  alreadyScored: Record<ScoreGroup, number>;
  /** Images that could not be scored (see the warnings). */
  skipped: Record<ScoreGroup, number>;
}

/** The metric whose presence marks a job as scored by the group. */
const MARKER: Record<ScoreGroup, BenchmarkMetric> = {
  clip: 'clip-full',
  'text-text': 'text-text',
  tifa: 'tifa',
};

/** Per group, the finished images it has not scored yet (so a caller can skip loading models for none). */
export function unscoredCounts(
  store: BenchmarkStore,
  groups: readonly ScoreGroup[],
): Record<ScoreGroup, number> {
  const results = store.results();
  const counts = { clip: 0, 'text-text': 0, tifa: 0 };
  for (const group of groups) {
    const scored = new Set(store.scoresFor(MARKER[group]).map((s) => s.jobId));
    counts[group] = results.filter((r) => !scored.has(r.jobId)).length;
  }
  return counts;
}

export async function scoreRun(
  store: BenchmarkStore,
  models: ScoringModels,
  options: ScoreRunOptions,
): Promise<ScoreRunSummary> {
  const batchSize = options.batchSize ?? 16;
  const warn = options.onWarning ?? (() => {});
  const zero = () => ({ clip: 0, 'text-text': 0, tifa: 0 });
  const summary: ScoreRunSummary = { scored: zero(), alreadyScored: zero(), skipped: zero() };
  const results = store.results();
  const promptText = memo((set: string, id: string) => store.prompt(set, id).text);
  for (const group of options.groups) {
    const scored = new Set(store.scoresFor(MARKER[group]).map((s) => s.jobId));
    const pending = results.filter((r) => !scored.has(r.jobId));
    summary.alreadyScored[group] = results.length - pending.length;
    const questions = group === 'tifa' ? await questionsFor(store, pending) : undefined;
    let done = 0;
    for (let start = 0; start < pending.length; start += batchSize) {
      const batch = pending.slice(start, start + batchSize);
      const skippedBefore = summary.skipped[group];
      const images: { result: ResultRow; image: RgbImage }[] = [];
      for (const result of batch) {
        try {
          images.push({ result, image: await loadRgbImage(join(store.dir, ...result.imagePath.split('/'))) });
        } catch (error) {
          summary.skipped[group]++;
          warn(`job ${result.jobId} (${result.imagePath}): ${(error as Error).message}; not scored`);
        }
      }
      for (const [text, items] of byPrompt(images, (r) => promptText(r.setName, r.promptId))) {
        if (group === 'clip') await scoreClip(store, models, text, items);
        if (group === 'text-text') await scoreTextText(store, models, text, items);
        if (group === 'tifa') {
          for (const { result, image } of items) {
            const asked = questions?.get(promptKey(result)) ?? [];
            if (asked.length === 0) {
              summary.skipped[group]++;
              warn(
                `${result.setName}/${result.promptId} has no TIFA questions; job ${result.jobId} not scored`,
              );
              continue;
            }
            await scoreTifa(store, models, asked, result, image);
          }
        }
      }
      summary.scored[group] += batch.length - (summary.skipped[group] - skippedBefore);
      done += batch.length;
      options.onProgress?.({ group, done, total: pending.length });
    }
  }
  return summary;
}

async function scoreClip(
  store: BenchmarkStore,
  models: ScoringModels,
  prompt: string,
  items: { result: ResultRow; image: RgbImage }[],
): Promise<void> {
  const embeds = await need(models.imageEmbeds, 'CLIP image features')(items.map((item) => item.image));
  const scores = await aeImageTextSimilarity(need(models.text, 'CLIP text features'), embeds, prompt);
  items.forEach(({ result }, i) => {
    const { full, firstHalf, secondHalf, minHalf } = scores[i];
    // clip-full last: it marks the job as scored, so a kill between the two writes rescores it.
    if (minHalf !== null)
      store.recordScore(result.jobId, 'clip-min-half', minHalf, { firstHalf, secondHalf });
    store.recordScore(result.jobId, 'clip-full', full, { firstHalf, secondHalf });
  });
}

async function scoreTextText(
  store: BenchmarkStore,
  models: ScoringModels,
  prompt: string,
  items: { result: ResultRow; image: RgbImage }[],
): Promise<void> {
  const caption = need(models.caption, 'BLIP captions');
  const scores = await aeTextTextSimilarity(
    need(models.text, 'CLIP text features'),
    items.map((item) => item.image),
    prompt,
    caption,
  );
  items.forEach(({ result }, i) => {
    store.recordScore(result.jobId, 'text-text', scores[i].similarity, { caption: scores[i].caption });
  });
}

type StoredQuestion = ReturnType<BenchmarkStore['questionsFor']>[number];

async function scoreTifa(
  store: BenchmarkStore,
  models: ScoringModels,
  questions: StoredQuestion[],
  result: ResultRow,
  image: RgbImage,
): Promise<void> {
  const answers = await need(models.answer, 'BLIP VQA')(
    image,
    questions.map((q) => q.question),
  );
  // tifaAccuracy asks the questions in order: hand it the answers already computed in one model call.
  let next = 0;
  const asked: MetricQuestion[] = questions.map((q) => ({
    question: q.question,
    choices: q.choices,
    answer: q.answer,
    ...(q.category === undefined ? {} : { elementType: q.category }),
  }));
  const { accuracy, records } = await tifaAccuracy(
    asked,
    async () => answers[next++],
    need(models.text, 'CLIP text features'),
  );
  store.recordScore(result.jobId, 'tifa', accuracy, {
    answers: records.map((record, i) => ({ questionId: questions[i].id, ...record })),
  });
}

/**
 * Each prompt's stored questions; a prompt without any gets its own (TIFA v1.0) or its structure's, stored
 * first, with the shipped set's colour and scene lists as choices.
 */
async function questionsFor(store: BenchmarkStore, results: readonly ResultRow[]) {
  const byPromptKey = new Map<string, StoredQuestion[]>();
  const vocabularies = new Map<string, PromptSet | undefined>();
  for (const result of results) {
    const key = promptKey(result);
    if (byPromptKey.has(key)) continue;
    let stored = store.questionsFor(result.setName, result.promptId);
    if (stored.length === 0) {
      if (!vocabularies.has(result.setName))
        vocabularies.set(result.setName, await shippedSet(result.setName));
      const prompt = store.prompt(result.setName, result.promptId);
      const questions = promptQuestions(prompt, vocabularies.get(result.setName));
      if (questions.length > 0) {
        store.recordQuestions(result.setName, result.promptId, questions);
        stored = store.questionsFor(result.setName, result.promptId);
      }
    }
    byPromptKey.set(key, stored);
  }
  return byPromptKey;
}

/** A set shipped with the package (for its word lists); undefined for files and downloaded sets. */
async function shippedSet(name: string): Promise<PromptSet | undefined> {
  const shipped = listPromptSets().some((set) => set.name === name && !set.download);
  return shipped ? loadPromptSet(name) : undefined;
}

const promptKey = (result: Pick<ResultRow, 'setName' | 'promptId'>) =>
  `${result.setName}\0${result.promptId}`;

/** Items grouped by their prompt's text, groups in first-seen order. */
function byPrompt<T extends { result: ResultRow }>(items: T[], textOf: (result: ResultRow) => string) {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const text = textOf(item.result);
    groups.set(text, [...(groups.get(text) ?? []), item]);
  }
  return groups;
}

function need<T>(model: T | undefined, what: string): T {
  if (model === undefined) throw new Error(`scoring needs ${what}, but no such model was loaded`);
  return model;
}

function memo<R>(compute: (a: string, b: string) => R): (a: string, b: string) => R {
  const cache = new Map<string, R>();
  return (a, b) => {
    const key = `${a}\0${b}`;
    if (!cache.has(key)) cache.set(key, compute(a, b));
    return cache.get(key) as R;
  };
}
