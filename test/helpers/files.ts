import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Every file of a folder, by its path relative to it (with `/`). */
export async function readTree(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(root, { recursive: true })) {
    const full = join(root, entry);
    if ((await stat(full)).isFile())
      files.set(relative(root, full).split('\\').join('/'), await readFile(full));
  }
  return files;
}
