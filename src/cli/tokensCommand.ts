import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { ClipTokenizer } from '../models/clipTokenizer.ts';
import { formatPromptTokens } from '../prompt/index.ts';
import { resolveModel } from '../weights/resolveModel.ts';

export function addTokensCommand(program: Command): Command {
  return program
    .command('tokens')
    .description(
      "Print a prompt's tokens with the indices --token-indices and --attribute-indices use, and the objects and " +
        'attributes the guidance would choose automatically.',
    )
    .argument('<prompt>', 'the prompt to tokenize')
    .requiredOption(
      '-m, --model <dir|repo>',
      'diffusers model folder or Hugging Face repo id (only its tokenizer is read)',
    )
    .action(async (prompt: string, options: { model: string }) => {
      const tokenizer = ClipTokenizer.fromFolder(await tokenizerFolder(options.model));
      process.stdout.write(`${formatPromptTokens(tokenizer, prompt)}\n`);
    });
}

/** The model's tokenizer/ folder; no weights are opened, and from the Hub none are downloaded. */
export async function tokenizerFolder(model: string): Promise<string> {
  const folder = join(await resolveModel(model, { components: ['tokenizer'] }), 'tokenizer');
  if (!(await stat(folder).catch(() => undefined))?.isDirectory()) {
    throw new UserError(`${model} has no tokenizer/ folder; give a diffusers model folder`);
  }
  return folder;
}
