/**
 * Serves the page's files from web/: a fixed set of content types, `.ts` as JavaScript, and nothing outside the
 * folder (any `..` segment, raw or percent-encoded, is refused before touching the disk).
 *
 * The page's URLs name its TypeScript files (`studio.ts`, which imports `./api.ts`) in both ways of running:
 * from sources (tsx, vitest) each `.ts` is transpiled on request, so an edited page needs no build; from the
 * compiled package the same URL answers with the JavaScript scripts/build.mjs wrote to dist/web/, so the
 * package needs neither esbuild nor a compiler at run time.
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when this module is the build's JavaScript (dist/server/staticFiles.js), not the TypeScript source. */
const RUNS_COMPILED = import.meta.url.endsWith('.js');

/** Where the build puts the page's compiled scripts: dist/web/<name>.js for web/<name>.ts. */
const COMPILED_PAGE_ROOT = fileURLToPath(new URL('../web/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The file a request path names inside `root`, or a status to answer with. */
export function resolveStaticPath(root: string, rawPath: string): string | 403 | 404 {
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return 404;
  }
  if (path.includes('\0') || path.includes('\\')) return 403;
  const segments = path.split('/');
  if (segments.some((segment) => segment === '..' || segment.startsWith('.'))) return 403;
  const relative = path === '/' ? 'index.html' : segments.filter(Boolean).join('/');
  const file = resolve(root, relative);
  // Belt and braces: whatever the checks above missed must still land inside root.
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return 403;
  if (!(extname(file) in CONTENT_TYPES)) return 404;
  return file;
}

export async function serveStatic(
  root: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  // req.url is the raw request target: parse it ourselves, since new URL() would quietly drop `..` segments.
  const rawPath = (request.url ?? '/').split('?')[0];
  const file = resolveStaticPath(root, rawPath);
  if (file === 403 || file === 404) {
    response.writeHead(file, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(file === 403 ? 'forbidden\n' : 'not found\n');
    return;
  }
  const extension = extname(file);
  const body = await fileBody(root, file, extension);
  if (body === undefined) {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    response.end('not found\n');
    return;
  }
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[extension],
    'content-length': Buffer.byteLength(body),
    // The page is edited while the studio runs; always ask again (cheap on localhost).
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** What to send for `file`, or undefined when there is no such file. */
async function fileBody(root: string, file: string, extension: string): Promise<string | Buffer | undefined> {
  if (extension === '.ts' && RUNS_COMPILED) {
    const compiled = join(COMPILED_PAGE_ROOT, relative(root, file).replace(/\.ts$/, '.js'));
    return (await isFile(compiled)) ? readFile(compiled, 'utf8') : undefined;
  }
  if (!(await isFile(file))) return undefined;
  if (extension !== '.ts') return readFile(file);
  // Imported only here, so the compiled package never loads esbuild (a development dependency).
  const { transpiledModule } = await import('./transpile.ts');
  return transpiledModule(file);
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
