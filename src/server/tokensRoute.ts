/** GET /api/tokens?prompt=…: a prompt's tokens with official indices and the automatic choice. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UserError } from '../errors.ts';
import type { ClipTokenizer } from '../models/clipTokenizer.ts';
import { selectTokens } from '../prompt/index.ts';
import { sendJson } from './httpIo.ts';
import type { StudioToken, StudioTokensResponse } from './studioProtocol.ts';

export function promptTokens(tokenizer: ClipTokenizer, prompt: string): StudioTokensResponse {
  const encoding = tokenizer.encode(prompt);
  const tokens: StudioToken[] = encoding.positions.slice(1, -1).map((position) => ({
    index: position.index,
    token: position.text,
    word: position.wordIndex >= 0 ? encoding.words[position.wordIndex].text : position.text,
  }));
  let automatic: StudioTokensResponse['automatic'] = null;
  try {
    const { objects, attributes } = selectTokens(tokenizer, prompt);
    automatic = { objects, attributes };
  } catch (error) {
    // No object noun: the page shows that and asks for an override; anything else is a bug.
    if (!(error instanceof UserError)) throw error;
  }
  return {
    prompt,
    tokens,
    endIndex: encoding.positions[encoding.positions.length - 1].index,
    automatic,
    dropped: encoding.truncated?.droppedText ?? null,
  };
}

export function handleTokens(tokenizer: ClipTokenizer, request: IncomingMessage, response: ServerResponse) {
  const prompt = new URL(request.url ?? '/', 'http://studio').searchParams.get('prompt');
  if (prompt === null) throw new UserError('give the prompt: /api/tokens?prompt=…');
  sendJson(response, 200, promptTokens(tokenizer, prompt));
}
