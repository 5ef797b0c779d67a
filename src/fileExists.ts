import { stat } from 'node:fs/promises';

/** Whether anything exists at `path` (file, folder or link target). */
export async function fileExists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}
