/** Reads a run's report input from its store: every finished image, its prompt and its scores. */
import { join } from 'node:path';
import { listPromptSets } from '../promptSets.ts';
import { BENCHMARK_METRICS } from '../scoreMetrics.ts';
import type { BenchmarkStore } from '../store.ts';
import { orderMethods, type ReportEntry, type ReportInput, type ReportSet } from './reportInput.ts';

export function loadReportInput(store: BenchmarkStore): ReportInput {
  const settings = store.settings();
  const entries = new Map<number, ReportEntry>();
  const prompts = new Map<string, string>();
  const promptText = (set: string, id: string) => {
    const key = `${set}\0${id}`;
    let text = prompts.get(key);
    if (text === undefined) {
      text = store.prompt(set, id).text;
      prompts.set(key, text);
    }
    return text;
  };
  for (const result of store.results()) {
    entries.set(result.jobId, {
      jobId: result.jobId,
      set: result.setName,
      promptId: result.promptId,
      prompt: promptText(result.setName, result.promptId),
      method: result.method,
      seed: String(result.seed),
      imagePath: join(store.dir, ...result.imagePath.split('/')),
      relativeImagePath: result.imagePath,
      scores: {},
    });
  }
  for (const metric of BENCHMARK_METRICS) {
    for (const score of store.scoresFor(metric)) {
      const entry = entries.get(score.jobId);
      if (entry) entry.scores[metric] = score.value;
    }
  }
  // Sets and methods in the order the run expands its jobs (set by set), so the report follows the command.
  const jobs = store.jobs();
  const knownLabels = new Map(listPromptSets().map((set) => [set.name, set.label]));
  const sets: ReportSet[] = [...new Set(jobs.map((job) => job.setName))].map((name) => ({
    name,
    label: knownLabels.get(name) ?? setLabel(name),
  }));
  return {
    dir: store.dir,
    sets,
    methods: orderMethods([...settings.methods, ...jobs.map((job) => job.method)]),
    settings,
    entries: [...entries.values()],
  };
}

/** A label for a set the package does not ship: "my-animals" → "My-Animals", as the paper writes set names. */
export function setLabel(name: string): string {
  return name.replace(
    /(^|[-_\s])([a-z])/g,
    (_, separator: string, letter: string) => separator + letter.toUpperCase(),
  );
}
