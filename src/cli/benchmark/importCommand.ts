import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Command } from 'commander';
import type { PromptSet } from '../../benchmark/promptSet.ts';
import { importPromptList, readPromptLists } from '../../benchmark/promptSetImport.ts';
import { formatPromptSetJson } from '../../benchmark/promptSetJson.ts';
import { UserError } from '../../errors.ts';
import { ClipTokenizer } from '../../models/clipTokenizer.ts';
import { writeFileAtomically } from '../../weights/atomicFile.ts';
import { tokenizerFolder } from '../tokensCommand.ts';

interface ImportCommandOptions {
  model: string;
  name?: string;
  out?: string;
  overwrite: boolean;
}

/**
 * `dnb benchmark import FILE --model M [--name NAME] [--out FILE.json]`: a prompt list (text, a zip of
 * category files, JSON, CSV) as a prompt-set file for `dnb benchmark run --prompts`.
 */
export function addImportCommand(benchmark: Command): Command {
  return benchmark
    .command('import')
    .description(
      'Turn a list of prompts into a prompt-set file for `dnb benchmark run --prompts`: plain text (one prompt ' +
        'a line), a zip of such files named by category (one set each), a JSON list of strings or of ' +
        '{prompt, tokenIndices, attributeIndices} objects, or CSV with a prompt column and optional ' +
        'token_indices and attribute_indices columns. Objects and attributes not given by index are chosen ' +
        'with the automatic token selection, and the file says so for each prompt.',
    )
    .argument('<file>', 'the prompt list (.txt, .zip, .json or .csv)')
    .requiredOption(
      '-m, --model <dir|repo>',
      'diffusers model folder or Hugging Face repo id whose tokenizer numbers the tokens (only it is read)',
    )
    .option(
      '--name <name>',
      'the set name (with a zip: the prefix of each category set); default the file name',
    )
    .option('-o, --out <file>', 'the prompt-set file to write; default FILE with the extension .prompts.json')
    .option('--overwrite', 'replace the output file if it exists', false)
    .action(async (file: string, options: ImportCommandOptions) => {
      const bytes = await readInput(file);
      const lists = readPromptLists(bytes, basename(file));
      const tokenizer = ClipTokenizer.fromFolder(await tokenizerFolder(options.model));
      const base = options.name ?? basename(file, extname(file));
      const sets = lists.map((list) => {
        const label = list.category === undefined ? base : list.category;
        const name = setName(
          list.category === undefined
            ? base
            : options.name
              ? `${options.name}-${list.category}`
              : list.category,
        );
        const inferred = list.prompts.filter((listed) => listed.tokenIndices === undefined).length;
        const where =
          list.category === undefined ? basename(file) : `${list.category}.txt in ${basename(file)}`;
        const source =
          `Imported by dnb benchmark import from ${where} (${list.prompts.length} prompts); ` +
          `${inferred} of them with objects and attributes from the automatic token selection ` +
          `(tokenizer of ${options.model}), the rest from the token indices the file gave`;
        return importPromptList(tokenizer, list, { name, label, source });
      });
      checkDistinctNames(sets);
      const out = options.out ?? join(dirname(file), `${basename(file, extname(file))}.prompts.json`);
      const json = formatPromptSetJson(sets.length === 1 ? sets[0] : { sets });
      await writeFileAtomically(out, (handle) => handle.writeFile(json), { overwrite: options.overwrite });
      const prompts = sets.reduce((sum, set) => sum + set.prompts.length, 0);
      const automatic = sets.reduce(
        (sum, set) => sum + set.prompts.filter((prompt) => prompt.structureSource === 'automatic').length,
        0,
      );
      process.stderr.write(
        `wrote ${out}: ${sets.length === 1 ? `set ${sets[0].name}` : `sets ${sets.map((s) => s.name).join(', ')}`}, ` +
          `${prompts} prompts (${automatic} with automatically chosen tokens)\n`,
      );
    });
}

async function readInput(file: string): Promise<Uint8Array> {
  try {
    if ((await stat(file)).isDirectory()) throw new UserError(`${file} is a folder; give a prompt list file`);
    return new Uint8Array(await readFile(file));
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(
      `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
}

/** "Animal-Scene" -> "animal-scene": set names name folders (images/SET/…). */
function setName(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|-+$/g, '');
  if (name === '') throw new UserError(`"${text}" gives no usable set name; give one with --name`);
  return name;
}

function checkDistinctNames(sets: readonly PromptSet[]): void {
  const seen = new Set<string>();
  for (const set of sets) {
    if (seen.has(set.name)) {
      throw new UserError(`two category files give the set name "${set.name}"; rename one in the zip`);
    }
    seen.add(set.name);
  }
}
