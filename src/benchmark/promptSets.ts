/**
 * The benchmark prompt sets: the six shipped with the package (src/benchmark/sets/*.json: A&E's three, the
 * three D&B reconstructions), TIFA v1.0 (downloaded on first use), and prompt-set files (`--prompts FILE`,
 * written by `dnb benchmark import`).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { jsonSyntaxReason, UserError } from '../errors.ts';
import type { PromptSet } from './promptSet.ts';
import { parsePromptSets } from './promptSetParse.ts';
import { loadTifaBenchmark, TIFA_SET_LABEL, TIFA_SET_NAME, type TifaOptions } from './tifaBenchmark.ts';

/** The shipped sets, in the paper's order. */
const SHIPPED_SETS = [
  'animal-animal',
  'animal-object',
  'color-object',
  'animal-scene',
  'color-obj-scene',
  'multi-object',
] as const;

export interface PromptSetSummary {
  name: string;
  label: string;
  /** Number of prompts; unknown for a set not downloaded yet. */
  size?: number;
  reconstructed: boolean;
  /** True when the set is downloaded on first use (TIFA v1.0). */
  download: boolean;
}

/** Every set `loadPromptSet` knows. */
export function listPromptSets(): PromptSetSummary[] {
  return [
    ...SHIPPED_SETS.map((name) => {
      const set = shippedSet(name);
      return {
        name,
        label: set.label,
        size: set.prompts.length,
        reconstructed: set.reconstructed,
        download: false,
      };
    }),
    { name: TIFA_SET_NAME, label: TIFA_SET_LABEL, reconstructed: false, download: true },
  ];
}

/** A set by the name `--set` takes; TIFA v1.0 is downloaded into the cache on first use (`options`). */
export async function loadPromptSet(name: string, options: TifaOptions = {}): Promise<PromptSet> {
  if ((SHIPPED_SETS as readonly string[]).includes(name)) return shippedSet(name);
  if (name === TIFA_SET_NAME) return loadTifaBenchmark(options);
  const known = listPromptSets().map((set) => set.name);
  throw new UserError(
    `unknown prompt set "${name}"; the known sets are ${known.join(', ')} ` +
      '(or give a prompt-set file with --prompts FILE)',
  );
}

/** The sets of a prompt-set file: one set, or several (`{"sets": [...]}`, from a zip of category files). */
export async function loadPromptFile(path: string): Promise<PromptSet[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read the prompt-set file ${path} (${code ?? (error as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UserError(
      `${path} is not JSON (${jsonSyntaxReason(error)}); a list of prompts in text, CSV or a zip is turned ` +
        'into a prompt-set file by `dnb benchmark import FILE --out FILE.json`',
    );
  }
  return parsePromptSets(value, path);
}

const shippedCache = new Map<string, PromptSet>();

function shippedSet(name: string): PromptSet {
  let set = shippedCache.get(name);
  if (set === undefined) {
    const url = new URL(`./sets/${name}.json`, import.meta.url);
    [set] = parsePromptSets(JSON.parse(readFileSync(url, 'utf8')), `src/benchmark/sets/${name}.json`);
    shippedCache.set(name, set);
  }
  // A copy, so a caller that edits its set does not change the next caller's.
  return structuredClone(set);
}
