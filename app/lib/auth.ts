// Who may use the server. The custom server (scripts/server.ts) puts every request through
// `AuthGate.handle` before Next.js or the stream route sees it, so pages, API routes, the stream
// and thumbnails are guarded in one place, and a new route cannot forget to ask.
//
// Credentials (indexer/services/config.ts, ServerConfig): VIDSEARCH_PASSWORD signs a browser in (a form at
// /login, then a session cookie); VIDSEARCH_API_TOKEN is sent by API clients as
// `Authorization: Bearer <token>`. With neither set, the server listens on loopback only (the config
// refuses anything else) and asks for nothing.
//
// The session cookie is stateless: "v1.<expiry, unix seconds>.<HMAC-SHA256 of "v1.<expiry>">",
// base64url. The HMAC key is derived from a random secret kept in the data directory (mode 0600)
// and the password, so changing the password, or deleting the secret file, ends every session.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { isLoopbackHost, type ServerConfig } from '@/indexer/settings';

export const SESSION_COOKIE = 'vidsearch_session';
export const SESSION_SECONDS = 30 * 24 * 3600;
export const SECRET_FILE = 'session-secret';
export const LOGIN_PATH = '/login';
export const LOGOUT_PATH = '/logout';
const MAX_LOGIN_BODY = 8 * 1024;

/**
 * Where to go after signing in: a path on this server only. "//evil.com", "/\evil.com",
 * "https://evil.com" and anything with control characters become "/" (no open redirect).
 */
export function safeNext(next: string | undefined | null): string {
  if (!next || next.length > 2000 || !next.startsWith('/') || next.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(next)) return '/';
  const base = 'http://vidsearch.invalid';
  let u: URL;
  try {
    u = new URL(next, base);
  } catch {
    return '/';
  }
  if (u.origin !== base) return '/';
  const target = `${u.pathname}${u.search}${u.hash}`;
  // Back to the sign-in form after signing in would look like a failure.
  return u.pathname === LOGIN_PATH || u.pathname === LOGOUT_PATH ? '/' : target;
}

const b64url = (b: Buffer) => b.toString('base64url');
const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest();

/** Equal-length digests compared in constant time: neither the content nor the length leaks. */
export function secretEquals(given: string, expected: string): boolean {
  return crypto.timingSafeEqual(sha256(given), sha256(expected));
}

/**
 * The data directory's random secret, created on first use. Written to a temporary file and
 * linked into place, so that two processes starting at once agree on one secret and none reads a
 * half-written file.
 */
export function loadSecret(home: string): Buffer {
  const file = path.join(home, SECRET_FILE);
  fs.mkdirSync(home, { recursive: true });
  const existing = (): Buffer | undefined => {
    try {
      const st = fs.statSync(file);
      // Readable by others, it would let them sign cookies: tighten it rather than trust it.
      if ((st.mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
      const buf = fs.readFileSync(file);
      if (buf.length < 32) throw new Error(`${file} is damaged (${buf.length} bytes); delete it and restart (everyone signs in again)`);
      return buf;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const found = existing();
  if (found) return found;
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
  fs.writeFileSync(tmp, crypto.randomBytes(32), { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return existing()!;
}

/** The key that signs sessions: the data directory's secret bound to the current password. */
export function sessionKey(secret: Buffer, password: string): Buffer {
  return crypto.createHmac('sha256', secret).update('vidsearch session v1\0').update(password).digest();
}

export function signSession(key: Buffer, expires: number): string {
  const payload = `v1.${expires}`;
  return `${payload}.${b64url(crypto.createHmac('sha256', key).update(payload).digest())}`;
}

/** True for a cookie value this key signed that has not expired. */
export function verifySession(key: Buffer, value: string | undefined, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  const m = value ? /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
  if (!m) return false;
  const expires = Number(m[1]);
  const expected = crypto.createHmac('sha256', key).update(`v1.${m[1]}`).digest();
  const given = Buffer.from(m[2], 'base64url');
  const genuine = given.length === expected.length && crypto.timingSafeEqual(given, expected);
  // A genuine value from the future beyond one lifetime was not made by this server's clock.
  return genuine && expires > nowSeconds && expires <= nowSeconds + SESSION_SECONDS + 300;
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** IPv6 clients usually own a whole /64: count failures per /64, not per address. */
export function clientKey(address: string | undefined): string {
  const a = (address ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (!a.includes(':')) return a;
  const [head, tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Brute-force brake: a few free tries, then each wrong password (or token) from the same client
 * doubles the wait before the next is even looked at, up to 15 minutes. A success clears it;
 * an hour without failures forgets it. Memory is bounded: past 10 000 clients the oldest go.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; until: number; last: number }>();
  constructor(
    readonly freeTries = 5,
    readonly maxWaitMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds the client must still wait; 0 when it may try. */
  retryAfter(client: string): number {
    const f = this.failures.get(client);
    if (!f) return 0;
    if (this.now() - f.last > 3_600_000) {
      this.failures.delete(client);
      return 0;
    }
    return Math.max(0, Math.ceil((f.until - this.now()) / 1000));
  }

  fail(client: string): void {
    const f = this.failures.get(client) ?? { count: 0, until: 0, last: 0 };
    f.count += 1;
    f.last = this.now();
    if (f.count >= this.freeTries) f.until = f.last + Math.min(this.maxWaitMs, 1000 * 2 ** (f.count - this.freeTries));
    this.failures.delete(client);
    this.failures.set(client, f);
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
  }

  succeed(client: string): void {
    this.failures.delete(client);
  }
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The address the browser used (a reverse proxy says it in X-Forwarded-Host). */
function hostsOf(req: http.IncomingMessage): string[] {
  return [first(req.headers.host), first(req.headers['x-forwarded-host'])?.split(',')[0]]
    .map((h) => h?.trim().toLowerCase())
    .filter((h): h is string => !!h);
}

/**
 * Whether a state-changing request came from one of our own pages. A cookie rides along on
 * requests other sites make (SameSite=Lax still sends it on top-level navigations); Origin (or,
 * failing that, Referer) says which page made the request. A cross-site request cannot set
 * X-Forwarded-Host without a CORS preflight, which this server never grants.
 */
export function sameOrigin(req: http.IncomingMessage, { required }: { required: boolean }): boolean {
  const source = first(req.headers.origin) ?? first(req.headers.referer);
  if (!source || source === 'null') return !required && !source;
  let host: string;
  try {
    host = new URL(source).host.toLowerCase();
  } catch {
    return false;
  }
  return hostsOf(req).includes(host);
}

function isHttps(req: http.IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  // Trusting a client that claims https can only make the cookie stricter, never weaker.
  return first(req.headers['x-forwarded-proto'])?.split(',')[0].trim().toLowerCase() === 'https';
}

/** The raw path, or undefined for anything but an origin-form target ("/..."). */
function rawPath(req: http.IncomingMessage): string | undefined {
  const target = req.url ?? '';
  return target.startsWith('/') ? target.split('?')[0] : undefined;
}

/**
 * Next's build output, open to all (hashed names, no library data), so the sign-in page has its
 * styles and scripts. Judged on the raw path too, so that dot segments or encoded slashes
 * ("/_next/static/%2e%2e/...") never make a guarded route look like a static file.
 */
function isStaticAsset(raw: string | undefined, pathname: string): boolean {
  return !!raw && raw.startsWith('/_next/static/') && pathname.startsWith('/_next/static/') && !/\.\.|%2e|%2f|%5c|\\/i.test(raw);
}

type Res = http.ServerResponse;

/**
 * What a signed-in client gets must not be kept by shared caches (a proxy or CDN in front) and
 * handed to the next caller: "public" becomes "private" on every answer to an authenticated
 * request. Done in writeHead, which Node calls for explicit and implicit headers alike, so it
 * covers Next's responses and the stream route's.
 */
export function keepCachesPrivate(res: Res): void {
  const privatize = (v: unknown) => String(v).replace(/\bpublic\b/gi, 'private').replace(/,?\s*s-maxage=\d+/gi, '');
  const writeHead = res.writeHead;
  res.writeHead = function (this: Res, ...args: unknown[]) {
    const current = this.getHeader('cache-control');
    if (current !== undefined) this.setHeader('Cache-Control', privatize(current));
    for (const a of args) {
      if (a && typeof a === 'object' && !Array.isArray(a)) {
        const h = a as Record<string, unknown>;
        for (const k of Object.keys(h)) if (k.toLowerCase() === 'cache-control') h[k] = privatize(h[k]);
      }
    }
    return (writeHead as (...a: unknown[]) => Res).apply(this, args);
  } as Res['writeHead'];
}

function send(res: Res, status: number, headers: Record<string, string | string[]>, body?: string): void {
  res.writeHead(status, { 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

function sendJson(res: Res, status: number, data: unknown, headers: Record<string, string> = {}): void {
  send(res, status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(data));
}

function redirect(res: Res, location: string, headers: Record<string, string | string[]> = {}): void {
  send(res, 303, { Location: location, ...headers });
}

function loginHref(params: Record<string, string | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && !(k === 'next' && v === '/')) p.set(k, v);
  const qs = p.toString();
  return qs ? `${LOGIN_PATH}?${qs}` : LOGIN_PATH;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        resolve(undefined);
        req.pause();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export interface GateOptions {
  /** The health route's answer, reduced to `{ ok }` for callers without a credential. */
  health?: () => Promise<Response>;
  /** For tests of expiry. */
  now?: () => number;
}

export class AuthGate {
  private readonly key?: Buffer;
  readonly throttle: LoginThrottle;
  private readonly now: () => number;

  constructor(
    readonly cfg: ServerConfig,
    home: string,
    private readonly options: GateOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.throttle = new LoginThrottle(5, 15 * 60_000, this.now);
    if (cfg.password !== undefined) this.key = sessionKey(loadSecret(home), cfg.password);
  }

  /** Whether anything is asked for at all. */
  get enabled(): boolean {
    return this.cfg.password !== undefined || this.cfg.apiToken !== undefined;
  }

  /** A fresh session cookie value, valid for SESSION_SECONDS. */
  issue(): string {
    if (!this.key) throw new Error('no VIDSEARCH_PASSWORD: there are no sessions');
    return signSession(this.key, Math.floor(this.now() / 1000) + SESSION_SECONDS);
  }

  private hasSession(req: http.IncomingMessage): boolean {
    return !!this.key && verifySession(this.key, cookieValue(req.headers.cookie, SESSION_COOKIE), Math.floor(this.now() / 1000));
  }

  private cookie(req: http.IncomingMessage, value: string, maxAge: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${isHttps(req) ? '; Secure' : ''}`;
  }

  /**
   * Answers the request itself (sign-in, sign-out, refusals) and returns true, or returns false
   * when the request may go on to Next.js or the stream route.
   */
  async handle(req: http.IncomingMessage, res: Res): Promise<boolean> {
    const raw = rawPath(req);
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      pathname = '';
    }
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';

    if (!this.enabled) {
      // Nothing asked for, so the server is on loopback; but a web page the user visits can point
      // a name it controls at 127.0.0.1 (DNS rebinding) and read the API through the browser.
      // The Host header gives that away: only loopback names are answered.
      const host = first(req.headers.host);
      if (host && !isLoopbackHost(host.replace(/:\d+$/, ''))) {
        sendJson(res, 403, { error: `this server answers only requests addressed to localhost (Host was "${host.slice(0, 100)}"); to serve other names, set VIDSEARCH_PASSWORD or VIDSEARCH_API_TOKEN` });
        return true;
      }
      return false;
    }

    if (raw === LOGIN_PATH && method === 'POST') {
      await this.login(req, res);
      return true;
    }
    if (raw === LOGOUT_PATH) {
      if (method !== 'POST') sendJson(res, 405, { error: 'sign out with POST /logout' }, { Allow: 'POST' });
      else if (!sameOrigin(req, { required: false })) sendJson(res, 403, { error: 'cross-site sign-out refused' });
      else redirect(res, loginHref({ signedout: '1' }), { 'Set-Cookie': this.cookie(req, '', 0) });
      return true;
    }
    if (isStaticAsset(raw, pathname)) return false;

    const auth = first(req.headers.authorization);
    let authenticated = false;
    if (auth !== undefined) {
      const client = clientKey(req.socket.remoteAddress);
      const wait = this.throttle.retryAfter(client);
      if (wait > 0) {
        sendJson(res, 429, { error: `too many wrong credentials from your address: try again in ${wait} s` }, { 'Retry-After': String(wait) });
        return true;
      }
      const token = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth)?.[1];
      // The secret is compared even when no token is configured, so timing says nothing either way.
      const ok = token !== undefined && secretEquals(token, this.cfg.apiToken ?? '') && this.cfg.apiToken !== undefined;
      if (!ok) {
        this.throttle.fail(client);
        sendJson(res, 401, { error: this.cfg.apiToken === undefined ? 'this server takes no API token (VIDSEARCH_API_TOKEN is not set)' : 'wrong token' }, {
          'WWW-Authenticate': 'Bearer realm="vidsearch", error="invalid_token"',
          Connection: 'close',
        });
        return true;
      }
      this.throttle.succeed(client);
      authenticated = true;
    } else if (this.hasSession(req)) {
      if (!read && method !== 'OPTIONS' && !sameOrigin(req, { required: true })) {
        sendJson(res, 403, { error: 'cross-site request refused: the Origin of this request is not this server' });
        return true;
      }
      authenticated = true;
    }

    if (raw === LOGIN_PATH && read) {
      // Signed in already: straight on.
      if (authenticated && this.key) {
        redirect(res, safeNext(new URL(req.url ?? '/', 'http://localhost').searchParams.get('next')));
        return true;
      }
      return false;
    }
    if (authenticated) {
      keepCachesPrivate(res);
      return false;
    }

    if (pathname === '/api/health' && read && this.options.health) {
      // Open to probes (load balancers, `npm start`'s readiness check), but only whether it works:
      // the full answer names files and errors with paths in them.
      const r = await this.options.health();
      const body = (await r.json().catch(() => ({}))) as { ok?: unknown };
      sendJson(res, r.status, { ok: body.ok === true });
      return true;
    }
    const browserPage = read && !pathname.startsWith('/api/');
    if (browserPage) {
      redirect(res, loginHref({ next: safeNext(req.url) }));
    } else {
      sendJson(
        res,
        401,
        { error: 'sign in first: send Authorization: Bearer <VIDSEARCH_API_TOKEN>, or sign in with the password at /login' },
        { 'WWW-Authenticate': 'Bearer realm="vidsearch"', Connection: 'close' },
      );
    }
    return true;
  }

  private async login(req: http.IncomingMessage, res: Res): Promise<void> {
    // Login CSRF: another site must not sign the browser in (to its own session or not).
    if (!sameOrigin(req, { required: false })) return sendJson(res, 403, { error: 'cross-site sign-in refused' });
    const body = await readBody(req, MAX_LOGIN_BODY);
    if (body === undefined) return sendJson(res, 413, { error: 'sign-in form too large' }, { Connection: 'close' });
    const form = new URLSearchParams(body);
    const next = safeNext(form.get('next'));
    if (!this.key) return redirect(res, loginHref({ error: 'off', next }));
    const client = clientKey(req.socket.remoteAddress);
    const wait = this.throttle.retryAfter(client);
    // While a client waits its password is not even looked at: guessing then gains nothing.
    if (wait > 0) return redirect(res, loginHref({ error: 'wait', retry: String(wait), next }), { 'Retry-After': String(wait) });
    if (!secretEquals(form.get('password') ?? '', this.cfg.password!)) {
      this.throttle.fail(client);
      return redirect(res, loginHref({ error: 'wrong', next }));
    }
    this.throttle.succeed(client);
    redirect(res, next, { 'Set-Cookie': this.cookie(req, this.issue(), SESSION_SECONDS) });
  }
}
