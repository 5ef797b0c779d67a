/**
 * POST /api/generate: runs each asked-for method from the same seed, one after the other, and streams NDJSON
 * events (start, progress, warning, one result per method, done). One generation at a time: ONNX Runtime
 * already uses every core, so a second request gets 409 instead of halving both.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UserError } from '../errors.ts';
import { type GenerationPlan, planWarnings } from '../pipeline/plan.ts';
import { drawSeed } from '../pipeline/seed.ts';
import type { StableDiffusion } from '../pipeline/stableDiffusion.ts';
import { parseGenerateBody } from './generateBody.ts';
import { readJsonBody, sendJson } from './httpIo.ts';
import { pngDataUrl } from './pngImage.ts';
import type { StudioEvent, StudioGenerateBody, StudioMethodResult } from './studioProtocol.ts';

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
    // Planned before the stream starts (and the 200 is sent), so a mistake is a 400 with its message.
    const plans = planMethods(sd, body);
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
      await streamGeneration(sd, plans, response, log);
    } finally {
      busySince = null;
    }
  };
}

/** One plan per asked-for method, all from the same seed, so the columns differ only by the method. */
function planMethods(sd: StableDiffusion, body: StudioGenerateBody): GenerationPlan[] {
  const seed = body.seed ?? drawSeed();
  return body.methods.map((method) =>
    sd.plan({
      prompt: body.prompt,
      negativePrompt: body.negativePrompt,
      method,
      seed,
      steps: body.steps,
      guidanceScale: body.guidanceScale,
      scheduler: body.scheduler,
      tokens: method === 'sd' ? undefined : body.tokens,
      traceMaps: true,
    }),
  );
}

async function streamGeneration(
  sd: StableDiffusion,
  plans: readonly GenerationPlan[],
  response: ServerResponse,
  log: (text: string) => void,
): Promise<void> {
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
  const methods = plans.map((plan) => plan.method);
  send({ type: 'start', seed: Number(plans[0].seed), methods });
  // Every method encodes the same prompt: tell each warning once.
  const warned = new Set<string>();
  const warn = (message: string) => {
    if (warned.has(message)) return;
    warned.add(message);
    send({ type: 'warning', message });
  };
  try {
    for (const plan of plans) {
      if (gone) break;
      for (const warning of planWarnings(plan)) warn(warning);
      send({ type: 'result', ...(await runPlan(sd, plan, send, warn, cancel.signal)) });
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

async function runPlan(
  sd: StableDiffusion,
  plan: GenerationPlan,
  send: (event: StudioEvent) => void,
  warn: (message: string) => void,
  signal: AbortSignal,
): Promise<StudioMethodResult> {
  const started = performance.now();
  const method = plan.method;
  const { images } = await sd.run(plan, {
    signal,
    onProgress: ({ loopIndex, total }) => send({ type: 'progress', method, step: loopIndex + 1, total }),
    onWarning: warn,
  });
  const [{ rgb, trace }] = images;
  return {
    method,
    image: await pngDataUrl(rgb),
    width: rgb.width,
    height: rgb.height,
    trace,
    mapResolution: plan.guidance?.settings.attentionRes,
    seconds: (performance.now() - started) / 1000,
  };
}
