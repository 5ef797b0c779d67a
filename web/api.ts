/** The studio server's API, as the page calls it. */
import type {
  StudioEvent,
  StudioGenerateBody,
  StudioInfo,
  StudioTokensResponse,
} from '../src/server/studioProtocol.ts';

async function errorOf(response: Response): Promise<Error> {
  const body = (await response.json().catch(() => null)) as { error?: string } | null;
  return new Error(body?.error ?? `the server answered ${response.status} ${response.statusText}`);
}

export async function fetchInfo(): Promise<StudioInfo> {
  const response = await fetch('/api/info');
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as StudioInfo;
}

export async function fetchTokens(prompt: string, signal?: AbortSignal): Promise<StudioTokensResponse> {
  const response = await fetch(`/api/tokens?prompt=${encodeURIComponent(prompt)}`, { signal });
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as StudioTokensResponse;
}

/** Posts the request and calls `onEvent` for each NDJSON line as it arrives. */
export async function generate(
  body: StudioGenerateBody,
  onEvent: (event: StudioEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  const response = await fetch('/api/generate', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok || !response.body) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    // A chunk may end mid-line: keep the tail for the next one.
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onEvent(JSON.parse(line) as StudioEvent);
  }
}
