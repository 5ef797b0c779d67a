import { stat } from 'node:fs/promises';
import { dirname, format, parse } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomically } from '../weights/atomicFile.ts';

/** One path per image: `x.png` itself for one image, `x-0.png`, `x-1.png`, … for several. */
export function numberedPaths(path: string, count: number): string[] {
  if (count === 1) return [path];
  const { dir, name, ext } = parse(path);
  return Array.from({ length: count }, (_, k) => format({ dir, name: `${name}-${k}`, ext }));
}

/**
 * Refuses, before any work is done, to write over a file the user already has, and checks that the folders
 * exist. The writes themselves check again (atomically), in case a file appears meanwhile.
 */
export async function checkOutputPaths(paths: readonly string[], overwrite: boolean): Promise<void> {
  for (const path of paths) {
    const folder = dirname(path);
    if (!(await stat(folder).catch(() => undefined))?.isDirectory()) {
      throw new UserError(`cannot write ${path}: folder ${folder} does not exist`);
    }
    const existing = await stat(path).catch(() => undefined);
    if (existing?.isDirectory()) throw new UserError(`cannot write ${path}: it is a folder`);
    if (existing && !overwrite) {
      throw new UserError(`${path} already exists; choose another path or pass --overwrite to replace it`);
    }
  }
}

/** Writes a text file (a trace) atomically. */
export async function writeTextFile(
  path: string,
  text: string,
  options: { overwrite?: boolean },
): Promise<void> {
  await writeFileAtomically(path, (handle) => handle.writeFile(text, 'utf8'), options);
}
