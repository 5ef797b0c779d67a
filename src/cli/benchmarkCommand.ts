import type { Command } from 'commander';
import { addReportCommand } from './benchmark/reportCommand.ts';

/** `dnb benchmark …`: the paper's evaluation, one subcommand per file in ./benchmark/. */
export function addBenchmarkCommand(program: Command): Command {
  const benchmark = program
    .command('benchmark')
    .description('Run, score and report the paper benchmarks (prompt sets × methods × seeds).');
  addReportCommand(benchmark);
  return benchmark;
}
