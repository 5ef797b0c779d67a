import { UserError } from '../errors.ts';
import type { HubSettings } from './hubSettings.ts';

/** Requests to the Hub's API and resolve endpoints, with errors a user can act on. */

/** Metadata requests are small: if the Hub does not answer in this time something is wrong. */
const METADATA_TIMEOUT_MS = 30_000;

/** What a request was for, so errors can say "repository X" or "file Y of X". */
export interface HubTarget {
  repoId: string;
  revision: string;
  file?: string;
}

export function hubHeaders(settings: HubSettings, url: string | URL): Record<string, string> {
  const headers: Record<string, string> = {
    // Sizes and resumed ranges refer to the stored bytes, so never let the server compress them.
    'accept-encoding': 'identity',
    'user-agent': 'divide-and-bind (+huggingface_hub cache layout)',
  };
  // The token is for the Hub only, never for the CDN a large file redirects to.
  if (settings.token && new URL(url).origin === new URL(settings.endpoint).origin) {
    headers['authorization'] = `Bearer ${settings.token}`;
  }
  return headers;
}

/** fetch() that turns connection failures into a UserError that suggests offline use. */
export async function fetchFromHub(
  settings: HubSettings,
  url: string | URL,
  init: RequestInit & { timeoutMs?: number },
): Promise<Response> {
  const { timeoutMs, ...rest } = init;
  try {
    return await fetch(url, {
      ...rest,
      headers: { ...hubHeaders(settings, url), ...(rest.headers as Record<string, string> | undefined) },
      signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : rest.signal,
    });
  } catch (err) {
    throw new HubNetworkError(settings, err);
  }
}

/** The Hub could not be reached at all (as opposed to answering with an error). */
export class HubNetworkError extends UserError {
  /** One line for a warning, e.g. `cannot reach https://huggingface.co (ENOTFOUND)`. */
  readonly summary: string;

  constructor(settings: HubSettings, cause: unknown, prefix = '') {
    const summary = `cannot reach ${settings.endpoint} (${describeNetworkError(cause)})`;
    super(
      `${prefix}${summary}. Check the network connection ` +
        '(and HF_ENDPOINT); to use models already downloaded set HF_HUB_OFFLINE=1, ' +
        'or pass the path of a local diffusers folder instead of a repo id',
      { cause },
    );
    this.summary = summary;
  }
}

export function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

/** A UserError for a Hub response that is not a success, using the Hub's X-Error-Code header. */
export function hubResponseError(settings: HubSettings, response: Response, target: HubTarget): UserError {
  const { repoId, revision, file } = target;
  const code = response.headers.get('x-error-code');
  const status = response.status;
  const what = file ? `${file} in ${repoId}` : repoId;
  const repoPage = `${settings.endpoint}/${repoId}`;
  const tokenAdvice = settings.token
    ? 'the token in HF_TOKEN (or from `huggingface-cli login`) was sent; check that it is valid and its account has access'
    : 'set HF_TOKEN to an access token of an account with access (created at https://huggingface.co/settings/tokens)';
  if (code === 'GatedRepo') {
    return new UserError(
      `${repoId} is a gated model: accept its licence on ${repoPage} while logged in, then ${tokenAdvice} ` +
        `(HTTP ${status})`,
    );
  }
  if (code === 'RepoNotFound' || (status === 401 && !file)) {
    return new UserError(
      `repository ${repoId} not found on ${settings.endpoint} (HTTP ${status}); check the repo id, or, if it ` +
        `is private or gated, ${tokenAdvice} and accept its licence on ${repoPage}`,
    );
  }
  if (code === 'RevisionNotFound') {
    return new UserError(`revision "${revision}" not found in ${repoId} (HTTP ${status}); check --revision`);
  }
  if (code === 'EntryNotFound' || (status === 404 && file)) {
    return new UserError(`file ${file} not found in ${repoId} at revision ${revision} (HTTP ${status})`);
  }
  if (status === 401 || status === 403) {
    return new UserError(
      `access to ${what} refused (HTTP ${status}): ${tokenAdvice}; if the model has a licence to accept, ` +
        `accept it on ${repoPage}`,
    );
  }
  if (status === 404) return new UserError(`${what} not found on ${settings.endpoint} (HTTP 404)`);
  if (status === 429)
    return new UserError(`the Hub is rate-limiting requests for ${what} (HTTP 429); try again later`);
  return new UserError(
    `the Hub answered HTTP ${status} for ${what}; try again later, or set HF_HUB_OFFLINE=1 to use the cache`,
  );
}

export interface RevisionInfo {
  /** The commit hash the revision points to. */
  commit: string;
  /** Every file path in the repository at that commit. */
  files: string[];
}

/** `GET /api/models/{repo}/revision/{revision}`: the commit and the file list (`siblings`). */
export async function fetchRevisionInfo(
  settings: HubSettings,
  repoId: string,
  revision: string,
): Promise<RevisionInfo> {
  const url = `${settings.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}`;
  const response = await fetchFromHub(settings, url, { timeoutMs: METADATA_TIMEOUT_MS });
  if (!response.ok) throw hubResponseError(settings, response, { repoId, revision });
  const body = (await response.json().catch(() => undefined)) as
    | { sha?: unknown; siblings?: { rfilename?: unknown }[] }
    | undefined;
  const commit = body?.sha;
  if (typeof commit !== 'string' || !/^[0-9a-f]{40}$/.test(commit) || !Array.isArray(body?.siblings)) {
    throw new UserError(
      `${url} did not answer with a commit and a file list; is HF_ENDPOINT a Hugging Face Hub?`,
    );
  }
  const files = body.siblings
    .map((s) => s.rfilename)
    .filter((name): name is string => typeof name === 'string');
  return { commit, files };
}

export interface FileMetadata {
  /** Content hash naming the blob: sha256 for LFS files, the git blob hash otherwise. */
  etag: string;
  size: number;
  /** Where to GET the bytes: the CDN for LFS files, otherwise the resolve URL. */
  downloadUrl: string;
}

/** A file's URL on the Hub at a revision. */
export function resolveUrl(settings: HubSettings, repoId: string, revision: string, file: string): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${settings.endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/**
 * `HEAD /{repo}/resolve/{revision}/{file}` without following the redirect to the CDN, so the Hub's
 * own headers (X-Linked-Etag, X-Linked-Size) are read. Relative redirects (a renamed repo) are followed.
 */
export async function fetchFileMetadata(
  settings: HubSettings,
  target: Required<HubTarget>,
): Promise<FileMetadata> {
  let url = resolveUrl(settings, target.repoId, target.revision, target.file);
  for (let hops = 0; hops < 5; hops++) {
    const response = await fetchFromHub(settings, url, {
      method: 'HEAD',
      redirect: 'manual',
      timeoutMs: METADATA_TIMEOUT_MS,
    });
    const location = response.headers.get('location');
    const isRedirect = response.status >= 300 && response.status < 400 && location !== null;
    if (isRedirect && /^\/(?!\/)/.test(location)) {
      url = new URL(location, url).toString();
      continue;
    }
    if (!isRedirect && !response.ok) throw hubResponseError(settings, response, target);
    const etag = normaliseEtag(response.headers.get('x-linked-etag') ?? response.headers.get('etag'));
    const size = Number(response.headers.get('x-linked-size') ?? response.headers.get('content-length'));
    if (!etag || !Number.isSafeInteger(size) || size < 0) {
      throw new UserError(
        `the Hub sent no usable ETag or size for ${target.file} in ${target.repoId}; ` +
          'is HF_ENDPOINT a Hugging Face Hub (a proxy may be stripping headers)?',
      );
    }
    return { etag, size, downloadUrl: isRedirect ? new URL(location, url).toString() : url };
  }
  throw new UserError(`too many redirects for ${target.file} in ${target.repoId}`);
}

/** `W/"abc"` -> `abc`; refuses anything that could not safely name a file. */
function normaliseEtag(etag: string | null): string | undefined {
  const value = etag?.replace(/^W\//, '').replace(/^"|"$/g, '');
  return value && /^[\w-]+$/.test(value) ? value : undefined;
}
