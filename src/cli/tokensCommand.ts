import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { ClipTokenizer } from '../models/clipTokenizer.ts';
import { formatPromptTokens } from '../prompt/index.ts';
import { openModel, resolveModel } from '../weights/resolveModel.ts';

export function addTokensCommand(program: Command): Command {
  return program
    .command('tokens')
    .description(
      "Print a prompt's tokens with the indices --token-indices and --attribute-indices use, and the objects and " +
        'attributes the guidance would choose automatically.',
    )
    .argument('<prompt>', 'the prompt to tokenize')
    .requiredOption(
      '-m, --model <dir|repo|file>',
      'diffusers model folder, Hugging Face repo id or single-file checkpoint (only its tokenizer is read)',
    )
    .option(
      '--config-from <dir|repo>',
      "a single-file checkpoint's configs and tokenizers (default: its base model)",
    )
    .action(async (prompt: string, options: { model: string; configFrom?: string }) => {
      const tokenizer = ClipTokenizer.fromFolder(await tokenizerFolder(options.model, options.configFrom));
      process.stdout.write(`${formatPromptTokens(tokenizer, prompt)}\n`);
    });
}

/**
 * The model's tokenizer/ folder (SDXL: the first tokenizer, whose positions the guidance counts in); no weights
 * are opened, and from the Hub none are downloaded.
 */
export async function tokenizerFolder(model: string, configFrom?: string): Promise<string> {
  // A single-file checkpoint's tokenizer comes from its config source; a folder needs only tokenizer/.
  const singleFile = (await stat(model).catch(() => undefined))?.isFile();
  const root =
    singleFile || configFrom !== undefined
      ? (await openModel(model, { components: ['tokenizer'], configFrom })).root
      : await resolveModel(model, { components: ['tokenizer'] });
  const folder = join(root, 'tokenizer');
  if (!(await stat(folder).catch(() => undefined))?.isDirectory()) {
    throw new UserError(`${model} has no tokenizer/ folder; give a diffusers model folder`);
  }
  return folder;
}
