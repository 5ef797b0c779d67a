import type { Command } from 'commander';
import { addImportCommand } from './benchmark/importCommand.ts';
import { addReportCommand } from './benchmark/reportCommand.ts';
import { addBenchmarkRunCommand } from './benchmark/runCommand.ts';
import { addScoreCommand } from './benchmark/scoreCommand.ts';
import { addBenchmarkStatusCommand } from './benchmark/statusCommand.ts';
import { addBenchmarkWorkerCommand } from './benchmark/workerCommand.ts';

/** `dnb benchmark …`: the paper's evaluation, one subcommand per file in ./benchmark/. */
export function addBenchmarkCommand(program: Command): Command {
  const benchmark = program
    .command('benchmark')
    .description('Run, score and report the paper benchmarks (prompt sets × methods × seeds).');
  addImportCommand(benchmark);
  addScoreCommand(benchmark);
  addReportCommand(benchmark);
  addBenchmarkRunCommand(benchmark);
  addBenchmarkWorkerCommand(benchmark);
  addBenchmarkStatusCommand(benchmark);
  return benchmark;
}
