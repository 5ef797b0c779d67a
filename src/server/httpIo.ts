/** Small helpers for node:http: JSON in, JSON and errors out. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UserError } from '../errors.ts';

/** A prompt and a few options fit easily; a bigger body is a mistake or abuse. */
const MAX_BODY_BYTES = 64 * 1024;

/** A body this small arrives in milliseconds; one that takes longer is a stalled or hostile client. */
export const BODY_READ_TIMEOUT_MS = 10_000;

/** A UserError sent with its own HTTP status instead of 400. */
export class HttpError extends UserError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The whole body as JSON, refused when it is too big or does not arrive within `timeoutMs`. */
export async function readJsonBody(
  request: IncomingMessage,
  timeoutMs: number = BODY_READ_TIMEOUT_MS,
): Promise<unknown> {
  const chunks = await new Promise<Buffer[]>((done, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: Error) => {
      clearTimeout(timer);
      request.off('data', onData).off('end', onEnd).off('error', finish);
      if (error) {
        // Nothing more is read; the answer is sent and the connection closed.
        request.pause();
        fail(error);
      } else {
        done(chunks);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) finish(new UserError(`the request body is over ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    const timer = setTimeout(
      () => finish(new HttpError(408, `the request body did not arrive within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    request.on('data', onData).on('end', onEnd).on('error', finish);
  });
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new UserError('the request body is not valid JSON');
  }
}

export function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  // An error answer may come before the whole request was read: close the connection rather than reuse it.
  if (status >= 400) response.shouldKeepAlive = false;
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
    sendJson(response, error instanceof HttpError ? error.status : 400, { error: error.message });
    return;
  }
  log(`studio: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  sendJson(response, 500, { error: 'internal error; the server log has the details' });
}
