import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { loadPromptFile } from '../../src/benchmark/promptSets.ts';
import { promptQuestions } from '../../src/benchmark/structuredQuestions.ts';
import { createProgram } from '../../src/cli/program.ts';
import { reportError } from '../../src/cli/reportError.ts';
import { type DnbRun, runDnb } from '../cli/runDnb.ts';
import { FIXTURES, TINY_SD, tempDir } from '../helpers/fixtures.ts';

const IMPORT = join(FIXTURES, 'benchmark', 'import');

/**
 * `dnb benchmark import ARGS` in this process, through the same program and error report as bin/dnb.js:
 * spawning costs seconds a run on this machine, so only a few cases below spawn the real command.
 */
async function dnbImport(args: readonly string[]): Promise<DnbRun> {
  let stderr = '';
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    await createProgram().parseAsync(['node', 'dnb', 'benchmark', 'import', ...args]);
    return { code: 0, stdout: '', stderr };
  } catch (error) {
    const code = reportError(error, (text) => {
      stderr += text;
    });
    return { code, stdout: '', stderr };
  } finally {
    process.stderr.write = write;
  }
}

/** Imports FILE with the tiny model's tokenizer into a fresh file; the written sets, read back by the loader. */
async function importFile(file: string, ...options: string[]) {
  const out = join(tempDir(), 'set.json');
  const run = await dnbImport([file, '--model', TINY_SD, '--out', out, ...options]);
  expect(run.stderr, run.stderr).toMatch(/^wrote /);
  expect(run.code).toBe(0);
  return { sets: await loadPromptFile(out), out, stderr: run.stderr };
}

/** A failed import: exit 1 and one `dnb: …` line, no stack trace. */
function expectRefusal(run: DnbRun): string {
  expect(run.code, run.stderr).toBe(1);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^dnb: /);
  return lines[0];
}

describe('dnb benchmark import', () => {
  it('reads a text file, one prompt a line, choosing objects and attributes automatically (spawned)', async () => {
    const out = join(tempDir(), 'set.json');
    const run = await runDnb([
      'benchmark',
      'import',
      join(IMPORT, 'prompts.txt'),
      '--model',
      TINY_SD,
      '--out',
      out,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe(`wrote ${out}: set prompts, 3 prompts (3 with automatically chosen tokens)\n`);
    const sets = await loadPromptFile(out);
    expect(sets).toHaveLength(1);
    const [set] = sets;
    expect(set).toMatchObject({
      name: 'prompts',
      label: 'prompts',
      reconstructed: false,
      generatedBy: 'dnb benchmark import',
    });
    expect(set.source).toContain('3 of them with objects and attributes from the automatic token selection');
    expect(set.prompts).toEqual([
      {
        id: 'a_purple_dog_and_a_green_bench_on_the_street_snowy_driving_scene',
        text: 'a purple dog and a green bench on the street,snowy driving scene',
        objects: [
          { word: 'dog', count: 1 },
          { word: 'bench', count: 1 },
        ],
        attributes: [
          { word: 'purple', object: 0 },
          { word: 'green', object: 1 },
        ],
        tokenIndices: [3, 7],
        attributeIndices: [2, 6],
        structureSource: 'automatic',
      },
      expect.objectContaining({
        text: 'a black cat and a red suitcase in the library',
        tokenIndices: [3, 7],
      }),
      {
        id: 'three_geese_floating_in_the_middle_of_a_river',
        text: 'three geese floating in the middle of a river',
        objects: [{ word: 'geese', count: 3, countWord: 'three' }],
        attributes: [],
        tokenIndices: [2],
        structureSource: 'automatic',
      },
    ]);
    expect(promptQuestions(set.prompts[2], set).map((q) => q.question)).toEqual([
      'are there geese?',
      'how many geese are there?',
    ]);
  });

  it('makes one set per category file of a zip, named by the file, prefixed by --name', async () => {
    const folder = tempDir();
    const zip = join(folder, 'db_prompts.zip');
    writeFileSync(
      zip,
      zipSync({
        'db_prompts/Animal-Scene.txt': strToU8(
          'a dog and a turtle on the street,snowy driving scene\na cat and a frog in the library\n',
        ),
        'db_prompts/Multi-Object.txt': strToU8('one cat and two dogs\r\n'),
        'db_prompts/README.md': strToU8('# not a prompt list'),
        '__MACOSX/db_prompts/._Animal-Scene.txt': strToU8('resource fork'),
      }),
    );
    const { sets } = await importFile(zip, '--name', 'db');
    expect(sets.map((set) => [set.name, set.label, set.prompts.length])).toEqual([
      ['db-animal-scene', 'Animal-Scene', 2],
      ['db-multi-object', 'Multi-Object', 1],
    ]);
    expect(sets[0].prompts.map((p) => [p.category, p.tokenIndices])).toEqual([
      ['Animal-Scene', [2, 5]],
      ['Animal-Scene', [2, 5]],
    ]);
    expect(sets[1].prompts[0].objects).toEqual([
      { word: 'cat', count: 1, countWord: 'one' },
      { word: 'dogs', count: 2, countWord: 'two' },
    ]);
    expect(sets[0].source).toContain('from Animal-Scene.txt in db_prompts.zip');
  });

  it('takes token indices from a JSON list and a CSV file, and reads the words off them', async () => {
    const json = (await importFile(join(IMPORT, 'prompts.json'))).sets[0];
    expect(json.prompts.map((p) => [p.structureSource, p.tokenIndices, p.attributeIndices])).toEqual([
      ['automatic', [2, 5], undefined],
      ['given', [2, 8], [4, 10]],
      ['automatic', [2, 6], [0, 5]],
    ]);
    expect(json.prompts[1].objects.map((o) => o.word)).toEqual(['flash', 'batman']);
    expect(json.prompts[1].attributes).toEqual([
      { word: 'green', object: 0 },
      { word: 'blue', object: 1 },
    ]);

    const csv = (await importFile(join(IMPORT, 'prompts.csv'), '--name', 'from-csv')).sets[0];
    expect(csv.name).toBe('from-csv');
    expect(csv.prompts.map((p) => [p.text, p.structureSource, p.tokenIndices, p.attributeIndices])).toEqual([
      ['a black cat and a red suitcase, in the library', 'given', [3, 7], [2, 6]],
      ['a dog and a "turtle" on the street', 'automatic', [2, 6], undefined],
      ['one cat and two dogs', 'given', [2, 5], undefined],
    ]);
    expect(csv.source).toContain('(3 prompts); 1 of them with objects and attributes from the automatic');
  });

  it('writes beside the input by default and never overwrites without --overwrite (spawned)', async () => {
    const folder = tempDir();
    const input = join(folder, 'mine.txt');
    copyFileSync(join(IMPORT, 'prompts.txt'), input);
    const first = await runDnb(['benchmark', 'import', input, '--model', TINY_SD]);
    expect(first.code, first.stderr).toBe(0);
    const out = join(folder, 'mine.prompts.json');
    expect(existsSync(out)).toBe(true);
    const written = readFileSync(out, 'utf8');
    expect(expectRefusal(await runDnb(['benchmark', 'import', input, '--model', TINY_SD]))).toBe(
      `dnb: ${out} already exists; choose another path or allow overwriting it`,
    );
    const again = await dnbImport([input, '--model', TINY_SD, '--overwrite']);
    expect(again.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(written);
  });

  it('refuses malformed files with one line each', async () => {
    const folder = tempDir();
    const out = join(folder, 'never.json');
    const noText = join(folder, 'no-text.zip');
    writeFileSync(noText, zipSync({ 'prompts.csv': strToU8('prompt\na cat\n'), 'notes/': new Uint8Array() }));
    const badIndex = join(folder, 'bad-index.json');
    writeFileSync(badIndex, JSON.stringify([{ prompt: 'a cat and a dog', tokenIndices: [2, 6] }]));
    const cases: [string, RegExp][] = [
      [
        join(IMPORT, 'bad-quote.csv'),
        /^dnb: bad-quote\.csv: bad CSV at line 2: text after a closing quote; write a quote inside a quoted field as ""$/,
      ],
      [
        join(IMPORT, 'not-a-list.json'),
        /^dnb: not-a-list\.json: a JSON import must be a list of prompts \(strings, or \{"prompt", "tokenIndices", "attributeIndices"\} objects\)$/,
      ],
      [join(IMPORT, 'empty.txt'), /^dnb: empty\.txt: the file is empty; give one prompt per line$/],
      [
        noText,
        /^dnb: no-text\.zip: the zip holds no \.txt file \(it has prompts\.csv\); give one text file per category/,
      ],
      [
        badIndex,
        /^dnb: bad-index\.json: item 1: Object token index 6 is the end token .*The tokens of "a cat and a dog" are: 1 a, 2 cat/,
      ],
      [join(folder, 'missing.txt'), /^dnb: cannot read .*missing\.txt \(ENOENT\)$/],
    ];
    for (const [file, expected] of cases) {
      expect(expectRefusal(await dnbImport([file, '--model', TINY_SD, '--out', out])), file).toMatch(
        expected,
      );
    }
    // The real command prints the same line and exits 1.
    const spawned = await runDnb(['benchmark', 'import', cases[0][0], '--model', TINY_SD, '--out', out]);
    expect(expectRefusal(spawned)).toMatch(cases[0][1]);
    expect(existsSync(out)).toBe(false);
  });
});
