import { open } from 'node:fs/promises';
import { UserError } from '../errors.ts';

/** Reading byte ranges of weight files, with errors that name the file. */

/** Node refuses single reads of 2 GiB or more; big ranges are read in pieces. */
const MAX_READ_BYTES = 1 << 30;

export type FileHandle = Awaited<ReturnType<typeof open>>;

export async function withFile<T>(path: string, use: (handle: FileHandle) => Promise<T>): Promise<T> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${path}: file not found`);
    throw new UserError(`${path}: cannot open (${(err as Error).message})`);
  }
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

export async function readExactly(
  handle: FileHandle,
  target: Uint8Array,
  position: number,
  path: string,
): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const chunk = Math.min(target.byteLength - done, MAX_READ_BYTES);
    const { bytesRead } = await handle.read(target, done, chunk, position + done);
    if (bytesRead === 0) {
      throw new UserError(`${path}: unexpected end of file at byte ${position + done} (the file shrank?)`);
    }
    done += bytesRead;
  }
}
