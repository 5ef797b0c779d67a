/** Starts the studio on the tiny model at a random port and talks to it the way the page does. */
import { request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import { StableDiffusion } from '../../src/pipeline/stableDiffusion.ts';
import type { StudioEvent } from '../../src/server/studioProtocol.ts';
import { createStudioServer, listen } from '../../src/server/studioServer.ts';
import { TINY_SD, tempDir } from '../helpers/fixtures.ts';

export interface Studio {
  url: string;
  /** Unexpected errors the server logged (a test expects none). */
  logged: string[];
  close(): Promise<void>;
}

/** The studio on a model folder (default the tiny SD fixture), over real HTTP on a random port. */
export async function startStudio(model = TINY_SD): Promise<Studio> {
  const sd = await StableDiffusion.load(model, {
    cacheDir: join(tempDir('dnb-studio-'), 'cache'),
    threads: 1,
  });
  const logged: string[] = [];
  const server: Server = createStudioServer(sd, { log: (text) => logged.push(text) });
  const url = await listen(server, '127.0.0.1', 0);
  return {
    url,
    logged,
    async close() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await sd.release();
    },
  };
}

/**
 * A GET with the path sent exactly as given: fetch() and new URL() would normalise `..` away before it left,
 * and the traversal tests need the raw form on the wire.
 */
export function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((done, fail) => {
    const request = httpRequest({ hostname, port, path, method: 'GET' }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        done({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
    });
    request.on('error', fail);
    request.end();
  });
}

export async function postGenerate(
  url: string,
  body: unknown,
): Promise<{ status: number; events: StudioEvent[]; error?: string }> {
  const response = await fetch(new URL('/api/generate', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok)
    return { status: response.status, events: [], error: (JSON.parse(text) as { error: string }).error };
  const events = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as StudioEvent);
  return { status: response.status, events };
}
