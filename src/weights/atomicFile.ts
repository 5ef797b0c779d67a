import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.ts';
import { fileExists } from '../fileExists.ts';

type FileHandle = Awaited<ReturnType<typeof open>>;

/**
 * Writes a file through a temporary sibling and a rename, so readers never see half a file and an
 * interrupted write leaves the old file (or nothing) in place. Without `overwrite` an existing file
 * is an error, checked atomically where the file system allows hard links.
 */
export async function writeFileAtomically(
  path: string,
  write: (handle: FileHandle) => Promise<void>,
  options: { overwrite?: boolean } = {},
): Promise<void> {
  if (!options.overwrite && (await fileExists(path))) throw alreadyExists(path);
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temporary, 'wx');
    try {
      await write(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.overwrite) {
      await rename(temporary, path);
    } else {
      await linkWithoutClobbering(temporary, path);
    }
  } finally {
    await unlink(temporary).catch(() => {});
  }
}

async function linkWithoutClobbering(temporary: string, path: string): Promise<void> {
  try {
    await link(temporary, path); // fails with EEXIST if someone created `path` meanwhile
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw alreadyExists(path);
    // File systems without hard links: fall back to check-then-rename.
    if (await fileExists(path)) throw alreadyExists(path);
    await rename(temporary, path);
  }
}

function alreadyExists(path: string): UserError {
  return new UserError(`${path} already exists; choose another path or allow overwriting it`);
}
