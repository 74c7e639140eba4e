// Requests the production server refuses before Next.js sees them, because Next.js would answer
// them with a 500 (checked on Next 16.4, `next build` of this app):
// - a path with malformed percent-encoding ("/api/videos/%", "/videos/%C0%AE": an overlong UTF-8
//   dot). Next's route matcher throws a DecodeError for the dynamic segment and means to answer
//   400, but renders that 400 through the Pages Router's /_error, which an App-Router-only build
//   does not have ("missing required error components"), so the client gets 500 instead.
// - TRACE (and TRACK, CONNECT) on a route handler: Next builds a web Request for the handler, and
//   the Request constructor refuses these methods ("'TRACE' HTTP method is unsupported"). Nothing
//   here implements them, so they are refused on every path (pages too: TRACE echoes nothing here).
// - a Host header or request target that does not make a URL (the server below parses both).
import type http from 'node:http';

/** Methods no route here implements, which the web Request constructor refuses outright. */
const FORBIDDEN_METHODS = new Set(['TRACE', 'TRACK', 'CONNECT']);
/** The methods this server answers on some path (routes and pages). */
const ALLOW = 'GET, HEAD, POST, OPTIONS';

export interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** Why `req` is refused before routing, or undefined when it may go on. Pure: tests call it directly. */
export function checkRequest(req: Pick<http.IncomingMessage, 'method' | 'url' | 'headers'>): Refusal | undefined {
  if (FORBIDDEN_METHODS.has((req.method ?? '').toUpperCase())) {
    return { status: 405, message: `method ${req.method} is not allowed`, headers: { Allow: ALLOW } };
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
  } catch {
    return { status: 400, message: 'malformed request target or Host header' };
  }
  try {
    decodeURIComponent(url.pathname);
  } catch {
    return { status: 400, message: 'malformed percent-encoding in the path' };
  }
  return undefined;
}

/**
 * Answers a refused request (JSON under /api/, plain text elsewhere) and returns true; returns false
 * for a request that may go on to routing.
 */
export function refuseBadRequest(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const refusal = checkRequest(req);
  if (!refusal) return false;
  const api = (req.url ?? '').startsWith('/api/');
  const body = api ? JSON.stringify({ error: refusal.message }) : `${refusal.status} ${refusal.message}\n`;
  res.writeHead(refusal.status, {
    'Content-Type': api ? 'application/json' : 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    ...refusal.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
