import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  checkModelsFor,
  loadScoringModels,
  SCORE_GROUPS,
  type ScoreGroup,
} from '../../benchmark/scoreModels.ts';
import { scoreRun, unscoredCounts } from '../../benchmark/scoreRun.ts';
import { BenchmarkStore } from '../../benchmark/store.ts';
import { addScoringRuntimeOptions, type ClipRuntimeFlags, runtimeOf } from '../clipScoreCommand.ts';
import { positiveInteger } from '../optionParsers.ts';

interface ScoreFlags extends ClipRuntimeFlags {
  metrics: ScoreGroup[];
  clipModel?: string;
  captionModel?: string;
  vqaModel?: string;
  batch: number;
}

/** "clip,tifa" → ['clip', 'tifa'], each a known metric group, in the order given. */
function metricList(text: string): ScoreGroup[] {
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(SCORE_GROUPS as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`unknown metric "${name}"; choose from ${SCORE_GROUPS.join(', ')}.`);
    }
  }
  return [...new Set(names)] as ScoreGroup[];
}

/** `dnb benchmark score DIR --metrics clip,text-text,tifa …`: scores a run's images, resumably. */
export function addScoreCommand(benchmark: Command): Command {
  const command = benchmark
    .command('score')
    .description(
      "Score a benchmark run's images that are not scored yet: clip = A&E's CLIP image-text similarity (full " +
        'prompt and minimum half), text-text = CLIP similarity of a BLIP caption with the prompt, tifa = TIFA ' +
        'accuracy with BLIP VQA. Scores go into the run store as they are made; run it again to resume.',
    )
    .argument('<dir>', 'the run folder (the --out of dnb benchmark run)')
    .addOption(
      new Option('--metrics <list>', `comma-separated, from ${SCORE_GROUPS.join(', ')}`)
        .argParser(metricList)
        .default([...SCORE_GROUPS], SCORE_GROUPS.join(',')),
    )
    .option(
      '--clip-model <dir|repo>',
      'CLIP model folder or Hub repo id, e.g. openai/clip-vit-base-patch16 (all metrics)',
    )
    .option(
      '--caption-model <dir|repo>',
      'BLIP captioning model for text-text, e.g. Salesforce/blip-image-captioning-base',
    )
    .option('--vqa-model <dir|repo>', 'BLIP VQA model for tifa, e.g. Salesforce/blip-vqa-base')
    .option('--batch <n>', 'images per batch (and per CLIP model call)', positiveInteger, 16);
  return addScoringRuntimeOptions(command).action(async (dir: string, flags: ScoreFlags) => {
    const names = {
      clip: flags.clipModel,
      caption: flags.captionModel,
      vqa: flags.vqaModel,
      batch: flags.batch,
      ...runtimeOf(flags),
    };
    checkModelsFor(flags.metrics, names); // before anything loads
    const store = BenchmarkStore.open(dir);
    try {
      // Load only the models of groups with work to do: a repeated command returns at once.
      const unscored = unscoredCounts(store, flags.metrics);
      const groups = flags.metrics.filter((group) => unscored[group] > 0);
      for (const group of flags.metrics.filter((g) => unscored[g] === 0)) {
        process.stderr.write(`${group}: nothing to score (${store.status().done} images, all scored)\n`);
      }
      if (groups.length === 0) return;
      const models = await loadScoringModels(groups, names);
      const bar = process.stderr.isTTY
        ? new SingleBar({
            format: '{group} [{bar}] {value}/{total} images · {eta_formatted} left',
            etaBuffer: 64,
          })
        : null;
      let current: ScoreGroup | null = null;
      try {
        const summary = await scoreRun(store, models, {
          groups,
          batchSize: flags.batch,
          onProgress: ({ group, done, total }) => {
            if (!bar) return;
            if (group !== current) {
              if (current) bar.stop();
              bar.start(total, 0, { group });
              current = group;
            }
            bar.update(done, { group });
          },
          onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
        });
        bar?.stop();
        for (const group of groups) {
          const skipped = summary.skipped[group]
            ? `, ${summary.skipped[group]} not scorable (see the warnings)`
            : '';
          process.stderr.write(
            `${group}: ${summary.scored[group]} images scored (${summary.alreadyScored[group]} before${skipped})\n`,
          );
        }
      } finally {
        bar?.stop();
        await models.release();
      }
    } finally {
      store.close();
    }
  });
}
