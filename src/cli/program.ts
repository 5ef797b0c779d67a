import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { addBenchmarkCommand } from './benchmarkCommand.ts';
import { addCaptionCommand } from './captionCommand.ts';
import { addClipScoreCommand } from './clipScoreCommand.ts';
import { addGenerateCommand } from './generateCommand.ts';
import { addScoreCommand } from './scoreCommand.ts';
import { addStudioCommand } from './studioCommand.ts';
import { addTokensCommand } from './tokensCommand.ts';
import { addVqaCommand } from './vqaCommand.ts';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * The `dnb` command line. Commander throws instead of exiting and prints no errors itself, so main.ts reports
 * every error the same way (subcommands made with `.command()` inherit both settings).
 */
export function createProgram(): Command {
  const program = new Command('dnb')
    .description('Stable Diffusion with Divide & Bind and Attend & Excite guidance, on ONNX Runtime.')
    .version(packageJson.version)
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError();
  addGenerateCommand(program);
  addTokensCommand(program);
  addStudioCommand(program);
  addBenchmarkCommand(program);
  addClipScoreCommand(program);
  addScoreCommand(program);
  addCaptionCommand(program);
  addVqaCommand(program);
  return program;
}
