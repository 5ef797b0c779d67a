/**
 * `dnb studio --benchmark DIR` without a model: the studio's server with only the Benchmarks view, so a run's
 * results can be browsed on a machine that has no Stable Diffusion weights.
 */
import { createServer, type Server } from 'node:http';
import { guardAccess } from './accessGuard.ts';
import type { BenchmarkRoutes } from './benchmarkRoutes.ts';
import { sendError, sendJson } from './httpIo.ts';
import { serveStatic } from './staticFiles.ts';
import { type StudioServerOptions, WEB_ROOT } from './studioServer.ts';

export function createBenchmarkServer(benchmark: BenchmarkRoutes, options: StudioServerOptions = {}): Server {
  const webRoot = options.webRoot ?? WEB_ROOT;
  const log = options.log ?? ((text: string) => process.stderr.write(text));
  // The same Host, Origin, token and content-security checks as the full studio.
  return createServer(
    guardAccess(async (request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      const method = request.method ?? 'GET';
      try {
        if (await benchmark.handle(request, response)) return;
        if (path === '/' || path === '/index.html') {
          // No model, so no generation page: open the Benchmarks view.
          response.writeHead(302, { location: '/benchmarks.html' });
          response.end();
        } else if (path.startsWith('/api/')) {
          sendJson(response, 404, {
            error: 'this studio has no model loaded (start it with --model to generate)',
          });
        } else if (method === 'GET' || method === 'HEAD') {
          await serveStatic(webRoot, request, response);
        } else {
          response.setHeader('allow', 'GET, HEAD');
          sendJson(response, 405, { error: 'use GET, HEAD' });
        }
      } catch (error) {
        sendError(response, error, log);
      }
    }, options),
  );
}
