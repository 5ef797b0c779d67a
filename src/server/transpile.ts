/**
 * The page's TypeScript, transpiled for the browser on request. esbuild's `transform` strips types in a few
 * milliseconds with no bundling or config, so web/ needs no build step (it is a direct dependency, not only
 * tsx's, so its version is pinned by our lock). Results are cached by file modification time.
 */
import { readFile, stat } from 'node:fs/promises';
import { transform } from 'esbuild';

const cache = new Map<string, { mtimeMs: number; code: string }>();

export async function transpiledModule(path: string): Promise<string> {
  const { mtimeMs } = await stat(path);
  const cached = cache.get(path);
  if (cached && cached.mtimeMs === mtimeMs) return cached.code;
  const source = await readFile(path, 'utf8');
  const { code } = await transform(source, {
    loader: 'ts',
    format: 'esm',
    target: 'es2022',
    sourcefile: path,
    sourcemap: 'inline',
  });
  cache.set(path, { mtimeMs, code });
  return code;
}
