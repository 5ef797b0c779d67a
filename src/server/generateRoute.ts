/**
 * POST /api/generate: runs each asked-for method from the same seed, one after the other, and streams NDJSON
 * events (start, progress, warning, one result per method, done). One generation at a time: ONNX Runtime
 * already uses every core, so a second request gets 409 instead of halving both.
 */
import { randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UserError } from '../errors.ts';
import { validateRequest } from '../pipeline/request.ts';
import type { StableDiffusion } from '../pipeline/stableDiffusion.ts';
import { selectTokens } from '../prompt/index.ts';
import { parseGenerateBody } from './generateBody.ts';
import { readJsonBody, sendJson } from './httpIo.ts';
import { pngDataUrl } from './pngImage.ts';
import type { StudioEvent, StudioGenerateBody, StudioMethod, StudioMethodResult } from './studioProtocol.ts';

export type GenerateHandler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

export function createGenerateHandler(
  sd: StableDiffusion,
  log: (text: string) => void,
  bodyTimeoutMs?: number,
): GenerateHandler {
  let busySince: number | null = null;
  return async (request, response) => {
    // The slot is taken only for a complete, valid body: a client that never sends one holds nothing.
    const body = parseGenerateBody(await readJsonBody(request, bodyTimeoutMs));
    checkBeforeStreaming(sd, body);
    if (busySince !== null) {
      const seconds = Math.round((Date.now() - busySince) / 1000);
      sendJson(response, 409, {
        error:
          `a generation is already running (for ${seconds} s); the studio runs one at a time: wait for it to ` +
          'finish or press Cancel on the page that started it, then try again',
      });
      return;
    }
    busySince = Date.now();
    try {
      await streamGeneration(sd, body, response, log);
    } finally {
      busySince = null;
    }
  };
}

/** Mistakes that would otherwise surface only after the stream has started (and the 200 was sent). */
function checkBeforeStreaming(sd: StableDiffusion, body: StudioGenerateBody): void {
  const [height, width] = sd.defaultSize;
  validateRequest(
    { prompt: body.prompt, steps: body.steps, guidanceScale: body.guidanceScale },
    height,
    width,
  );
  if (body.methods.some((method) => method !== 'sd')) selectTokens(sd.tokenizer, body.prompt, body.tokens);
}

async function streamGeneration(
  sd: StableDiffusion,
  body: StudioGenerateBody,
  response: ServerResponse,
  log: (text: string) => void,
): Promise<void> {
  const seed = body.seed ?? randomInt(2 ** 32);
  // A page that goes away (closed, reloaded, Cancel) cancels its generation within one UNet pass.
  const cancel = new AbortController();
  let gone = false;
  response.on('close', () => {
    gone = !response.writableFinished;
    if (gone) cancel.abort(new UserError('the client went away'));
  });
  response.writeHead(200, {
    'content-type': 'application/x-ndjson; charset=utf-8',
    'cache-control': 'no-store',
  });
  const send = (event: StudioEvent) => {
    if (!gone) response.write(`${JSON.stringify(event)}\n`);
  };
  send({ type: 'start', seed, methods: body.methods });
  const warned = new Set<string>();
  try {
    for (const method of body.methods) {
      // The pipeline cannot be interrupted mid-image, but a closed page needs no further methods.
      if (gone) break;
      send({ type: 'result', ...(await runMethod(sd, body, method, seed, send, warned, cancel.signal)) });
    }
  } catch (error) {
    if (gone) {
      log(`studio: generation cancelled: the client went away\n`);
    } else if (error instanceof UserError) {
      send({ type: 'error', message: error.message });
    } else {
      log(`studio: generation failed: ${(error as Error)?.stack ?? String(error)}\n`);
      send({ type: 'error', message: 'the generation failed; the server log has the details' });
    }
  }
  send({ type: 'done' });
  response.end();
}

async function runMethod(
  sd: StableDiffusion,
  body: StudioGenerateBody,
  method: StudioMethod,
  seed: number,
  send: (event: StudioEvent) => void,
  warned: Set<string>,
  signal: AbortSignal,
): Promise<StudioMethodResult> {
  const started = performance.now();
  const { images } = await sd.generate({
    prompt: body.prompt,
    negativePrompt: body.negativePrompt,
    method,
    seed,
    steps: body.steps,
    guidanceScale: body.guidanceScale,
    scheduler: body.scheduler,
    tokens: method === 'sd' ? undefined : body.tokens,
    traceMaps: true,
    signal,
    onProgress: ({ loopIndex, total }) => send({ type: 'progress', method, step: loopIndex + 1, total }),
    onWarning: (message) => {
      // Every method encodes the same prompt: tell each warning once.
      if (warned.has(message)) return;
      warned.add(message);
      send({ type: 'warning', message });
    },
  });
  const [{ rgb, trace }] = images;
  const firstMaps = trace?.steps.find((step) => step.maps)?.maps;
  return {
    method,
    image: await pngDataUrl(rgb),
    width: rgb.width,
    height: rgb.height,
    trace,
    mapResolution:
      trace && firstMaps ? Math.round(Math.sqrt(firstMaps.length / trace.objects.length)) : undefined,
    seconds: (performance.now() - started) / 1000,
  };
}
