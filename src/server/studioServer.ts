/**
 * The studio's HTTP server: the page from web/ and three API routes over one loaded pipeline. node:http is
 * enough for this handful of routes.
 */
import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { METHODS, methodLabel } from '../guidance/methods/index.ts';
import type { StableDiffusion } from '../pipeline/stableDiffusion.ts';
import { type AccessOptions, guardAccess } from './accessGuard.ts';
import type { BenchmarkRoutes } from './benchmarkRoutes.ts';
import { createGenerateHandler } from './generateRoute.ts';
import { sendError, sendJson } from './httpIo.ts';
import { serveStatic } from './staticFiles.ts';
import type { StudioInfo } from './studioProtocol.ts';
import { handleTokens } from './tokensRoute.ts';

/** web/ beside src/, where the package ships it. */
export const WEB_ROOT = fileURLToPath(new URL('../../web', import.meta.url));

export interface StudioServerOptions extends AccessOptions {
  webRoot?: string;
  /** Where unexpected errors are written (default stderr). */
  log?: (text: string) => void;
  /** A benchmark run to show in the Benchmarks view (`--benchmark DIR`). */
  benchmark?: BenchmarkRoutes;
  /** How long a POST body may take to arrive (default BODY_READ_TIMEOUT_MS). */
  bodyTimeoutMs?: number;
}

export function createStudioServer(sd: StableDiffusion, options: StudioServerOptions = {}): Server {
  return createServer(guardAccess(createStudioHandler(sd, options), options));
}

/** The studio's routes, without the access checks (guardAccess adds them). */
export function createStudioHandler(sd: StableDiffusion, options: StudioServerOptions = {}): RequestListener {
  const webRoot = options.webRoot ?? WEB_ROOT;
  const log = options.log ?? ((text: string) => process.stderr.write(text));
  const generate = createGenerateHandler(sd, log, options.bodyTimeoutMs);
  return async (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const method = request.method ?? 'GET';
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
        const info: StudioInfo = {
          model: sd.folder,
          family: sd.family.label,
          height,
          width,
          methods: METHODS.map((name) => ({ name, label: methodLabel(name) })),
          benchmark: options.benchmark?.dir ?? null,
        };
        sendJson(response, 200, info);
      } else if (method === 'GET' || method === 'HEAD') {
        await serveStatic(webRoot, request, response);
      } else {
        methodNotAllowed(response, 'GET, HEAD');
      }
    } catch (error) {
      sendError(response, error, log);
    }
  };
}

/**
 * What the studio answers while its model loads: the port is bound first, so a port in use fails before a
 * minute of loading, and a page opened early is told to wait instead of being refused.
 */
export const modelLoadingHandler: RequestListener = (_request, response) => {
  response.setHeader('retry-after', '5');
  sendJson(response, 503, { error: 'the model is loading; reload the page in a few seconds' });
};

function methodNotAllowed(response: ServerResponse, allow: string): void {
  response.setHeader('allow', allow);
  sendJson(response, 405, { error: `use ${allow}` });
}

/**
 * Listens on host:port (port 0 picks a free one) and returns the address to open. A port in use or an
 * address this machine does not have is a UserError that says what to do.
 */
export async function listen(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((done, fail) => {
    const onError = (error: NodeJS.ErrnoException) => fail(listenError(error, host, port));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      done();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shownHost}:${address.port}/`;
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new UserError(
        `port ${port} on ${host} is already in use (another studio, or another web UI such as A1111's?): ` +
          'stop it, or give another --port (--port 0 picks a free one)',
      );
    case 'EACCES':
      return new UserError(
        `not allowed to listen on ${where} (ports below 1024 need root): give a --port from 1024 to 65535, ` +
          'or --port 0 for a free one',
      );
    case 'EADDRNOTAVAIL':
      return new UserError(
        `cannot listen on ${where}: ${host} is not an address of this machine; give --host 127.0.0.1 (this ` +
          'machine only) or 0.0.0.0 (every network interface)',
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UserError(
        `cannot listen on ${where}: ${JSON.stringify(host)} is not an address or a known host name; give ` +
          '--host 127.0.0.1 (this machine only) or 0.0.0.0 (every network interface)',
      );
    default:
      return error;
  }
}
