/**
 * Serves the page's files from web/: a fixed set of content types, `.ts` transpiled to JavaScript, and nothing
 * outside the folder (any `..` segment, raw or percent-encoded, is refused before touching the disk).
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { transpiledModule } from './transpile.ts';

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
  if (!(await stat(file).catch(() => undefined))?.isFile()) {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    response.end('not found\n');
    return;
  }
  const extension = extname(file);
  const body = extension === '.ts' ? await transpiledModule(file) : await readFile(file);
  response.writeHead(200, {
    'content-type': CONTENT_TYPES[extension],
    'content-length': Buffer.byteLength(body),
    // The page is edited while the studio runs; always ask again (cheap on localhost).
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}
