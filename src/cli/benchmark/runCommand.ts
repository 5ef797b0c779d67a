import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadModelGenerator } from '../../benchmark/jobGenerator.ts';
import { keyText } from '../../benchmark/jobs.ts';
import type { PromptSet } from '../../benchmark/promptSet.ts';
import { loadPromptFile, loadPromptSet } from '../../benchmark/promptSets.ts';
import { type RunEvent, runBenchmark } from '../../benchmark/runner.ts';
import type { BenchmarkSettings } from '../../benchmark/runSettings.ts';
import { UserError } from '../../errors.ts';
import { METHODS, type Method } from '../../guidance/methods/index.ts';
import type { GenerationSettingOptions } from '../generateOptions.ts';
import {
  addGsnSettingOptions,
  addModelOption,
  addRuntimeOptions,
  addSamplingOptions,
  GUIDANCE_OPTIONS_HEADING,
} from '../generationOptions.ts';
import { seedList } from '../optionParsers.ts';
import { jobProgress } from './jobProgress.ts';

interface RunCommandOptions extends GenerationSettingOptions {
  set?: string[];
  prompts?: string;
  methods: Method[];
  seeds: number[];
  out: string;
  retryFailed?: boolean;
  queue?: string;
  queueName: string;
}

function methodList(text: string): Method[] {
  const methods = text.split(',').map((m) => m.trim());
  const unknown = methods.filter((m) => !(METHODS as readonly string[]).includes(m));
  if (unknown.length > 0 || methods.length === 0) {
    throw new InvalidArgumentError(`expected some of ${METHODS.join(',')}, got "${unknown.join(',')}".`);
  }
  if (new Set(methods).size !== methods.length) throw new InvalidArgumentError('a method is listed twice.');
  return methods as Method[];
}

const setList = (text: string) => text.split(',').map((s) => s.trim());

const EXAMPLES = `
Examples:
  $ dnb benchmark run --set animal-animal,color-object --methods sd,attend-excite,divide-bind --seeds 0-63 \\
      --model stable-diffusion-v1-5/stable-diffusion-v1-5 --out runs/paper
  $ dnb benchmark run --prompts my-prompts.json --seeds 0-3 --model ./sd15 --out runs/mine --steps 25
  $ dnb benchmark run … --queue redis://queue-host:6379   (then: dnb benchmark worker --queue … on each machine)

Run the same command again to resume a stopped run. stdout lists each image as it is stored.`;

export function addBenchmarkRunCommand(benchmark: Command): Command {
  const command = benchmark
    .command('run')
    .description('Generate the images of prompt sets × methods × seeds into a resumable run folder.')
    .addOption(
      new Option('--set <names>', 'prompt sets, comma-separated, e.g. animal-animal,color-object').argParser(
        setList,
      ),
    )
    .addOption(new Option('--prompts <file.json>', 'a prompt-set file instead of --set').conflicts('set'))
    .addOption(
      new Option('--methods <list>', `${METHODS.join(', ')} (comma-separated)`)
        .argParser(methodList)
        .default([...METHODS], METHODS.join(',')),
    )
    .addOption(
      new Option('--seeds <list>', 'seeds, e.g. 0-63 or 0,5,10-12')
        .argParser(seedList)
        .default(seedList('0-63'), '0-63'),
    );
  addModelOption(command).requiredOption('-o, --out <dir>', 'the run folder (benchmark.db and images/)');
  command
    .option('--retry-failed', 'try the jobs that failed in an earlier run again')
    .option(
      '--queue <redis-url>',
      'coordinate workers over a Redis queue, e.g. redis://host:6379/0 (this process then only queues and stores; start dnb benchmark worker beside it to use this machine too)',
    )
    .option('--queue-name <name>', 'the BullMQ queue name (workers must use the same)', 'dnb-benchmark');
  command.optionsGroup('Generation options (as dnb generate):');
  addSamplingOptions(command);
  command.optionsGroup(GUIDANCE_OPTIONS_HEADING);
  addGsnSettingOptions(command);
  return addRuntimeOptions(command)
    .addHelpText('after', EXAMPLES)
    .action((options: RunCommandOptions) => runCommand(options));
}

async function promptSetsOf(options: RunCommandOptions): Promise<PromptSet[]> {
  if (options.prompts !== undefined) return loadPromptFile(options.prompts);
  if (!options.set) throw new UserError('give the prompts: --set NAME[,NAME…] or --prompts FILE');
  return Promise.all(options.set.map((name) => loadPromptSet(name)));
}

/** The settings that decide the images, as the store keeps them. */
export function settingsOf(
  options: RunCommandOptions,
  sets: readonly PromptSet[],
): Omit<BenchmarkSettings, 'prompts'> {
  const thresholds =
    options.thresholds && Object.fromEntries([...options.thresholds].map(([i, v]) => [i, v]));
  return {
    model: options.model,
    sets: sets.map((s) => s.name),
    methods: options.methods,
    seeds: options.seeds,
    generation: {
      // The paper's settings where the options leave them unset: no negative prompt (""), CFG 7.5.
      negativePrompt: options.negativePrompt ?? '',
      rng: options.rng,
      steps: options.steps,
      guidanceScale: options.guidance ?? 7.5,
      height: options.height,
      width: options.width,
      scheduler: options.scheduler,
      karras: options.karras,
      gsn: {
        maxIterToAlter: options.maxIterToAlter,
        scaleFactor: options.scaleFactor,
        scaleRange: options.scaleRange,
        thresholds,
        refinementCaps: options.refinementCaps,
        tv: options.tv,
        attentionRes: options.attentionRes,
      },
      dtype: options.dtype ?? 'fp32',
      variant: options.variant,
    },
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

async function runCommand(options: RunCommandOptions): Promise<void> {
  const sets = await promptSetsOf(options);
  const settings = settingsOf(options, sets);
  let progress: ReturnType<typeof jobProgress> | undefined;
  const failures: string[] = [];
  const onEvent = (event: RunEvent) => {
    if (event.type === 'start') {
      if (event.adopted > 0) log(`adopted ${event.adopted} images written before the last stop`);
      log(`${event.expected} jobs, ${event.pending} to do`);
      progress = jobProgress(event.expected - event.pending, event.expected);
    } else if (event.type === 'stored') {
      // stdout lists the stored images and nothing else, so scripts can use it.
      process.stdout.write(`${join(options.out, event.imagePath)}\n`);
      progress?.tick(`${keyText(event.key)} (${(event.totalMs / 1000).toFixed(1)} s)`);
    } else {
      failures.push(event.error);
      progress?.tick(`failed: ${event.error}`);
    }
  };
  const common = { dir: options.out, settings, sets, retryFailed: options.retryFailed, onEvent };
  let summary: Awaited<ReturnType<typeof runBenchmark>>;
  try {
    summary =
      options.queue !== undefined
        ? // Imported only for --queue: BullMQ and ioredis take ~0.5 s to import.
          await (await import('../../benchmark/queueCoordinator.ts')).runCoordinator({
            ...common,
            url: options.queue,
            queueName: options.queueName,
          })
        : await runBenchmark({
            ...common,
            loadGenerator: () =>
              loadModelGenerator(options.model, {
                variant: options.variant,
                device: options.device,
                dtype: options.dtype ?? 'fp32',
                threads: options.threads,
                cacheDir: options.cacheDir,
                optimizedModel: options.optimizedCache,
              }),
          });
  } finally {
    progress?.stop();
  }
  const { done, expected, failed } = summary.status;
  log(`done: ${done} of ${expected} images stored (${summary.generated} now), ${failed} failed`);
  for (const failure of failures) log(`dnb: job failed: ${failure}`);
  if (failed > failures.length) {
    log(`dnb: ${failed - failures.length} jobs failed in earlier runs; --retry-failed tries them again`);
  }
}
