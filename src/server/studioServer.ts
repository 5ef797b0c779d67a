/**
 * The studio's HTTP server: the page from web/ and three API routes over one loaded pipeline. node:http is
 * enough for this handful of routes.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { StableDiffusion } from '../pipeline/stableDiffusion.ts';
import type { BenchmarkRoutes } from './benchmarkRoutes.ts';
import { createGenerateHandler } from './generateRoute.ts';
import { sendError, sendJson } from './httpIo.ts';
import { CONTENT_SECURITY_POLICY, refusedOrigin } from './requestOrigin.ts';
import { serveStatic } from './staticFiles.ts';
import { handleTokens } from './tokensRoute.ts';

/** web/ beside src/, where the package ships it. */
export const WEB_ROOT = fileURLToPath(new URL('../../web', import.meta.url));

export interface StudioServerOptions {
  webRoot?: string;
  /** Where unexpected errors are written (default stderr). */
  log?: (text: string) => void;
  /** A benchmark run to show in the Benchmarks view (`--benchmark DIR`). */
  benchmark?: BenchmarkRoutes;
  /** The host it listens on (`--host`), also accepted in the Host header besides the localhost forms. */
  host?: string;
  /** How long a POST body may take to arrive (default BODY_READ_TIMEOUT_MS). */
  bodyTimeoutMs?: number;
}

export function createStudioServer(sd: StableDiffusion, options: StudioServerOptions = {}): Server {
  const webRoot = options.webRoot ?? WEB_ROOT;
  const log = options.log ?? ((text: string) => process.stderr.write(text));
  const generate = createGenerateHandler(sd, log, options.bodyTimeoutMs);
  return createServer(async (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const method = request.method ?? 'GET';
    response.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    response.setHeader('x-content-type-options', 'nosniff');
    const refused = refusedOrigin(request, options.host);
    if (refused) return sendJson(response, 403, { error: refused });
    try {
      if (await options.benchmark?.handle(request, response)) return;
      if (path === '/api/generate') {
        if (method !== 'POST') return methodNotAllowed(response, 'POST');
        await generate(request, response);
      } else if (path === '/api/tokens') {
        if (method !== 'GET') return methodNotAllowed(response, 'GET');
        handleTokens(sd.tokenizer, request, response);
      } else if (path === '/api/info') {
        const [height, width] = sd.defaultSize;
        sendJson(response, 200, {
          model: sd.folder,
          height,
          width,
          benchmark: options.benchmark?.dir ?? null,
        });
      } else if (method === 'GET' || method === 'HEAD') {
        await serveStatic(webRoot, request, response);
      } else {
        methodNotAllowed(response, 'GET, HEAD');
      }
    } catch (error) {
      sendError(response, error, log);
    }
  });
}

function methodNotAllowed(response: ServerResponse, allow: string): void {
  response.setHeader('allow', allow);
  sendJson(response, 405, { error: `use ${allow}` });
}

/** Listens on host:port (port 0 picks a free one) and returns the address to open. */
export async function listen(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shownHost}:${address.port}/`;
}
