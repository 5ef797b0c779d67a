/** Small helpers for node:http: JSON in, JSON and errors out. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UserError } from '../errors.ts';

/** A prompt and a few options fit easily; a bigger body is a mistake or abuse. */
const MAX_BODY_BYTES = 64 * 1024;

export async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new UserError(`the request body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new UserError('the request body is not valid JSON');
  }
}

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(body);
}

/** `{ error }` with the status; only a UserError's message is shown, anything else is logged, never sent. */
export function sendError(response: ServerResponse, error: unknown, log: (text: string) => void): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  if (error instanceof UserError) {
    sendJson(response, 400, { error: error.message });
    return;
  }
  log(`studio: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  sendJson(response, 500, { error: 'internal error; the server log has the details' });
}
