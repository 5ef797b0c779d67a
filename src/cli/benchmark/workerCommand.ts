import { type Command, Option } from 'commander';
import { loadModelGenerator } from '../../benchmark/jobGenerator.ts';
import { DEFAULT_QUEUE_NAME } from '../../benchmark/queue.ts';
import { DEVICES, type Device } from '../../runtime/providers.ts';
import { addModelOption } from '../generationOptions.ts';
import { positiveInteger } from '../optionParsers.ts';

interface WorkerCommandOptions {
  queue: string;
  queueName: string;
  model: string;
  device: Device;
  threads?: number;
  cacheDir?: string;
  dtype: 'fp32' | 'fp16';
  variant?: string;
  lockDuration: number;
  stalledInterval: number;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

export function addBenchmarkWorkerCommand(benchmark: Command): Command {
  const command = benchmark
    .command('worker')
    .description('Take benchmark jobs from a Redis queue and send the images back to the coordinator.')
    .requiredOption('--queue <redis-url>', "the coordinator's queue, e.g. redis://host:6379/0")
    .option(
      '--queue-name <name>',
      'the BullMQ queue name (as given to dnb benchmark run)',
      DEFAULT_QUEUE_NAME,
    );
  return addModelOption(command)
    .addOption(
      new Option('--device <device>', 'where ONNX Runtime runs the graphs').choices(DEVICES).default('cpu'),
    )
    .addOption(
      new Option(
        '--dtype <dtype>',
        'the UNet precision to load at start (jobs of a run in another load it then)',
      )
        .choices(['fp32', 'fp16'])
        .default('fp32'),
    )
    .option('--variant <name>', 'weights variant to load at start, e.g. fp16')
    .option('--threads <n>', "ONNX Runtime's intra-op threads (default: all cores)", positiveInteger)
    .option('--cache-dir <dir>', 'where compiled graphs are cached')
    .option(
      '--lock-duration <ms>',
      "how long a job stays locked without renewal; a dead worker's job is retried after this",
      positiveInteger,
      60_000,
    )
    .option(
      '--stalled-interval <ms>',
      'how often jobs of dead workers are looked for',
      positiveInteger,
      30_000,
    )
    .addHelpText('after', '\nRuns until interrupted (Ctrl-C or SIGTERM lets the current job finish first).')
    .action((options: WorkerCommandOptions) => workerCommand(options));
}

async function workerCommand(options: WorkerCommandOptions): Promise<void> {
  const stop = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log(
    `worker ${process.pid}: connecting to ${options.queue} (queue ${options.queueName}) and loading ${options.model}`,
  );
  // Loaded here, not at start-up: BullMQ and ioredis take ~0.5 s to import, which every other command would pay.
  const { runWorker } = await import('../../benchmark/worker.ts');
  const { jobs } = await runWorker({
    url: options.queue,
    queueName: options.queueName,
    lockDurationMs: options.lockDuration,
    stalledIntervalMs: options.stalledInterval,
    stop,
    preload: { dtype: options.dtype, variant: options.variant },
    loadGenerator: (dtype, variant) =>
      loadModelGenerator(options.model, {
        dtype,
        variant,
        device: options.device,
        threads: options.threads,
        cacheDir: options.cacheDir,
      }),
    onJob: ({ type, job, detail }) => log(`${type} ${job}${detail ? `: ${detail}` : ''}`),
  });
  log(`worker ${process.pid}: stopped after ${jobs} jobs`);
}
