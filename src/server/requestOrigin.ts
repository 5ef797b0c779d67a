/**
 * Who may drive the studio. A page on any other site can make the user's browser send requests to
 * 127.0.0.1:7860: a cross-site POST of text/plain needs no CORS preflight, and DNS rebinding makes a foreign
 * name resolve to this machine. So every request must name this server in `Host` (the localhost forms, or the
 * address the connection came in on), and a request that carries an `Origin` must come from that same origin.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The page only loads its own scripts, styles and data-URL images, and may not be framed. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  // Inline style attributes (the page's layout tweaks); styles cannot run code.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Why the request is refused, or null when it may go on. */
export function refusedOrigin(request: IncomingMessage, boundHost?: string): string | null {
  const host = request.headers.host;
  if (!host) return 'the request has no Host header';
  const port = request.socket.localPort;
  const names = new Set(LOOPBACK_NAMES);
  const local = request.socket.localAddress;
  if (local) names.add(bracketed(local.replace(/^::ffff:/, '')));
  if (boundHost && !['0.0.0.0', '::'].includes(boundHost)) names.add(bracketed(boundHost).toLowerCase());
  const allowed = [...names].map((name) => `${name}:${port}`);
  if (!allowed.includes(host.toLowerCase())) {
    return `Host ${JSON.stringify(host)} is not this studio; open it as http://${allowed[0]}/ (or ${allowed
      .slice(1)
      .map((a) => `http://${a}/`)
      .join(', ')})`;
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin.toLowerCase() !== `http://${host.toLowerCase()}`) {
    return `requests from ${origin} are refused: only the studio's own page (http://${host}) may use it`;
  }
  return null;
}

function bracketed(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}
