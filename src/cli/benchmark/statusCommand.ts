import type { Command } from 'commander';
import { BenchmarkStore } from '../../benchmark/store.ts';

interface StatusOptions {
  json?: boolean;
}

export function addBenchmarkStatusCommand(benchmark: Command): Command {
  return benchmark
    .command('status')
    .description('How far a benchmark run is: jobs expected, done, failed and pending.')
    .argument('<dir>', 'the run folder (as given to dnb benchmark run --out)')
    .option('--json', 'print {"expected","done","failed","pending","duplicates"} as JSON')
    .action((dir: string, options: StatusOptions) => statusCommand(dir, options));
}

function statusCommand(dir: string, options: StatusOptions): void {
  const store = BenchmarkStore.open(dir);
  try {
    const status = store.status();
    if (options.json) {
      process.stdout.write(`${JSON.stringify(status)}\n`);
      return;
    }
    const { expected, done, failed, pending, duplicates } = status;
    process.stdout.write(
      `${done} of ${expected} images done, ${failed} failed, ${pending} pending` +
        (duplicates > 0 ? `, ${duplicates} stored twice (please report it)` : '') +
        '\n',
    );
    for (const job of store.jobs({ status: 'failed' })) {
      process.stdout.write(
        `failed: ${job.setName}/${job.promptId}/${job.method}/${job.seed}: ${job.error}\n`,
      );
    }
  } finally {
    store.close();
  }
}
