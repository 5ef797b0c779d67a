/**
 * What every studio response goes through before its route: the content security policy, the Host and
 * Origin checks (requestOrigin.ts), and, when the studio was started with a token, the token on every API
 * call. Static files load without it, so the page can come up and say what is missing.
 *
 * The token travels two ways: `Authorization: Bearer TOKEN` for scripts, and a cookie the server sets when
 * the page is opened as `/?token=TOKEN`. The cookie is HttpOnly (page scripts never see it) and
 * SameSite=Strict (another site's page cannot make the browser send it), so the page needs no code for it
 * and the benchmarks view works the same.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { sendJson } from './httpIo.ts';
import { CONTENT_SECURITY_POLICY, refusedOrigin } from './requestOrigin.ts';

export interface AccessOptions {
  /** The host it listens on (`--host`), also accepted in the Host header besides the localhost forms. */
  host?: string;
  /** When set, API calls need it (`--token`). */
  token?: string;
}

/** Wraps `handler` with the checks; `handler` only sees requests that passed them. */
export function guardAccess(handler: RequestListener, options: AccessOptions = {}): RequestListener {
  return (request, response) => {
    response.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    response.setHeader('x-content-type-options', 'nosniff');
    const refused = refusedOrigin(request, options.host);
    if (refused) return sendJson(response, 403, { error: refused });
    if (options.token !== undefined && !tokenAccepted(request, response, options.token)) {
      return sendJson(response, 401, {
        error:
          'this studio needs its token: open the address printed when it started (http://HOST:PORT/?token=…), ' +
          'or send the header "Authorization: Bearer TOKEN"',
      });
    }
    return handler(request, response);
  };
}

/** The cookie's name carries the port: cookies are kept per host, not per port, and two studios may run. */
function cookieName(request: IncomingMessage): string {
  return `dnb_studio_token_${request.socket.localPort}`;
}

/** True when the request may go on; sets the cookie when the page is opened with the right `?token=`. */
function tokenAccepted(request: IncomingMessage, response: ServerResponse, token: string): boolean {
  const url = new URL(request.url ?? '/', 'http://studio');
  const fromQuery = url.searchParams.get('token');
  if (fromQuery !== null && sameSecret(fromQuery, token)) {
    response.setHeader(
      'set-cookie',
      `${cookieName(request)}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
    );
    return true;
  }
  if (!url.pathname.startsWith('/api/')) return true;
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (bearer !== undefined && sameSecret(bearer.trim(), token)) return true;
  const cookie = readCookie(request.headers.cookie ?? '', cookieName(request));
  return cookie !== undefined && sameSecret(cookie, token);
}

function readCookie(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) {
      try {
        return decodeURIComponent(value.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Compares in constant time, so the answer's timing does not tell how much of a guess was right. */
function sameSecret(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
