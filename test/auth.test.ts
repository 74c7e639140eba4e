// Who may use the server (security issue 10, item 3): loopback by default, a credential beyond it,
// and once a credential is set, every page and route asks for it. The built app served by
// scripts/server.ts (as `npm start` runs it) over real HTTP, on a data directory with one indexed
// video; plus the pure rules (config, cookies, redirects, throttle) on their own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { clientKey, LoginThrottle, safeNext, SECRET_FILE, SESSION_COOKIE, SESSION_SECONDS, sessionKey, signSession, verifySession } from '../app/lib/auth';
import { InsecureBindError, isLoopbackHost, resolveServerConfig, type Config } from '../indexer/services/config';
import { UsageError } from '../indexer/core/errors';
import { openEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testConfig } from './helpers';
import { ensureBuilt, startNext, type NextServer } from './next-server';

const PASSWORD = 'correct horse battery staple';
const TOKEN = 'test-token-0123456789abcdef0123456789';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** One request, as written (no URL normalizing, no redirects followed), optionally from another loopback address. */
function request(
  base: string,
  method: string,
  target: string,
  { headers = {}, body, from }: { headers?: Record<string, string>; body?: string; from?: string } = {},
): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path: target, headers, localAddress: from, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body: b, text: b.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${target}: no answer in 20 s`)));
    req.end(body);
  });
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

/** The session cookie's value from a Set-Cookie header, and the whole header. */
function sessionFrom(a: Answer): { value: string; header: string } | undefined {
  const header = (a.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  return header ? { value: header.slice(SESSION_COOKIE.length + 1).split(';')[0], header } : undefined;
}

/** A non-loopback IPv4 address of this machine, if it has one. */
function lanAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(3000, () => (s.destroy(), resolve(false)));
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe('settings: HOST, PORT and the credentials (indexer/services/config.ts)', () => {
  test('HOST defaults to 127.0.0.1; HOSTNAME (the machine name in shells and Docker) is not read', () => {
    const cfg = resolveServerConfig({ HOSTNAME: '0.0.0.0' });
    assert.equal(cfg.host, '127.0.0.1');
    assert.equal(cfg.loopback, true);
    assert.equal(cfg.port, 3000);
    assert.equal(cfg.password, undefined);
    assert.equal(cfg.apiToken, undefined);
  });

  test('beyond loopback without a credential: refused, and the message says what to set', () => {
    for (const HOST of ['0.0.0.0', '::', '192.0.2.7', 'media.example']) {
      assert.throws(
        () => resolveServerConfig({ HOST }),
        (err: Error) => {
          assert.ok(err instanceof InsecureBindError && err instanceof UsageError);
          assert.match(err.message, new RegExp(`refusing to serve on ${HOST.replace(/\./g, '\\.')} without a credential`));
          assert.match(err.message, /VIDSEARCH_PASSWORD=/);
          assert.match(err.message, /VIDSEARCH_API_TOKEN=/);
          assert.match(err.message, /HOST=127\.0\.0\.1/);
          return true;
        },
      );
    }
    assert.equal(resolveServerConfig({ HOST: '0.0.0.0', VIDSEARCH_PASSWORD: PASSWORD }).loopback, false);
    assert.equal(resolveServerConfig({ HOST: '0.0.0.0', VIDSEARCH_API_TOKEN: TOKEN }).apiToken, TOKEN);
  });

  test('loopback names; bad values are usage errors', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.ok(isLoopbackHost(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'localhost.example.com', 'example.com', '1::1']) assert.ok(!isLoopbackHost(h), h);
    assert.equal(resolveServerConfig({ HOST: '[::1]' }).host, '::1');
    assert.throws(() => resolveServerConfig({ PORT: '70000' }), /PORT must be/);
    assert.throws(() => resolveServerConfig({ PORT: 'http' }), /PORT must be/);
    assert.throws(() => resolveServerConfig({ HOST: 'a b' }), /HOST must be/);
    assert.throws(() => resolveServerConfig({ VIDSEARCH_PASSWORD: 'short' }), /at least 8 characters/);
    assert.throws(() => resolveServerConfig({ VIDSEARCH_API_TOKEN: 'abc' }), /at least 16 characters/);
    // Empty means unset, as everywhere in the config.
    assert.equal(resolveServerConfig({ VIDSEARCH_PASSWORD: '', VIDSEARCH_API_TOKEN: '' }).password, undefined);
  });
});

describe('session cookies, redirects and the throttle (app/lib/auth.ts)', () => {
  const key = sessionKey(Buffer.alloc(32, 7), PASSWORD);
  const now = 1_800_000_000;

  test('a signed, unexpired value passes; tampered, expired, other-key or far-future values do not', () => {
    const good = signSession(key, now + 60);
    assert.ok(verifySession(key, good, now));
    assert.ok(!verifySession(key, good, now + 61), 'expired');
    const sig = good.split('.')[2];
    const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    assert.ok(!verifySession(key, `v1.${now + 60}.${flipped}`, now), 'signature changed');
    assert.ok(!verifySession(key, `v1.${now + 99999}.${sig}`, now), 'expiry changed');
    assert.ok(!verifySession(sessionKey(Buffer.alloc(32, 7), 'another password'), good, now), 'password changed');
    assert.ok(!verifySession(sessionKey(Buffer.alloc(32, 8), PASSWORD), good, now), 'secret changed');
    assert.ok(!verifySession(key, signSession(key, now + SESSION_SECONDS * 2), now), 'beyond one lifetime');
    for (const junk of [undefined, '', 'v1', 'v1..', `v2.${now + 60}.${sig}`, `${good}x`]) assert.ok(!verifySession(key, junk, now), String(junk));
  });

  test('next: only a path on this server', () => {
    assert.equal(safeNext('/library?status=failed'), '/library?status=failed');
    assert.equal(safeNext('/?q=red#x'), '/?q=red#x');
    for (const bad of ['//evil.com', '///evil.com', '/\\evil.com', '\\\\evil.com', 'https://evil.com', 'http:evil.com', 'evil.com', '/\t/evil.com', '', undefined, null, '/login', '/logout?x'])
      assert.equal(safeNext(bad), '/', String(bad));
  });

  test('throttle: five free tries, then doubling waits; a success clears it', () => {
    let t = 0;
    const th = new LoginThrottle(5, 15 * 60_000, () => t);
    for (let i = 0; i < 4; i++) th.fail('a');
    assert.equal(th.retryAfter('a'), 0);
    th.fail('a');
    assert.equal(th.retryAfter('a'), 1);
    th.fail('a');
    assert.equal(th.retryAfter('a'), 2);
    for (let i = 0; i < 20; i++) th.fail('a');
    assert.equal(th.retryAfter('a'), 900, 'capped at 15 minutes');
    assert.equal(th.retryAfter('b'), 0, 'per client');
    t += 900_000;
    assert.equal(th.retryAfter('a'), 0);
    th.succeed('a');
    th.fail('a');
    assert.equal(th.retryAfter('a'), 0);
    assert.equal(clientKey('2001:db8:1:2:3:4:5:6'), clientKey('2001:db8:1:2::9'));
    assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
    assert.equal(clientKey('::ffff:192.0.2.1'), '192.0.2.1');
  });
});

describe('the server (scripts/server.ts, built app)', () => {
  let cfg: Config;
  let env: Record<string, string>;
  let videoId = 0;

  before(
    async () => {
      const lib = tempDir('vidsearch-lib-');
      await makeColorVideo(path.join(lib, 'red.mp4'), [{ color: TEST_COLORS.red as RGB, seconds: 2 }]);
      cfg = await testConfig();
      const engine = await openEngine(cfg, { writer: true });
      try {
        assert.equal((await indexTargets(engine, [lib])).indexed.length, 1);
        videoId = (await engine.store.videos())[0].id;
      } finally {
        await engine.close();
      }
      env = { VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, DATABASE_URL: cfg.databaseUrl, VIDSEARCH_THREADS: '1' };
      await ensureBuilt();
    },
    { timeout: 10 * 60_000 },
  );

  test('HOST=0.0.0.0 without a credential: exits non-zero before listening, saying how to set one', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'server.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env, NEXT_TELEMETRY_DISABLED: '1', HOST: '0.0.0.0', PORT: String(port), VIDSEARCH_PASSWORD: '', VIDSEARCH_API_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 30_000);
      child.once('exit', (c) => (clearTimeout(timer), resolve(c)));
    });
    assert.notEqual(code, null, `still running after 30 s (so it served on 0.0.0.0 with nothing asked):\n${out}`);
    assert.notEqual(code, 0);
    assert.match(out, /refusing to serve on 0\.0\.0\.0 without a credential/);
    assert.match(out, /VIDSEARCH_PASSWORD=.*VIDSEARCH_API_TOKEN=/s);
    assert.equal(await connects('127.0.0.1', port), false, 'nothing listens on the port');
  });

  describe('defaults: no HOST, no credential', () => {
    let server: NextServer;
    before(async () => {
      // HOSTNAME as Docker sets it (the old code bound to it); HOST left unset.
      server = await startNext({ ...env, HOST: '', HOSTNAME: '0.0.0.0', VIDSEARCH_PASSWORD: '', VIDSEARCH_API_TOKEN: '' });
    });
    after(() => server?.stop());

    test('binds to 127.0.0.1 only: not reachable on the machine\'s other address', async () => {
      const port = Number(new URL(server.url).port);
      assert.match(server.log(), new RegExp(`listening on http://127\\.0\\.0\\.1:${port} \\(bound to 127\\.0\\.0\\.1:${port}; sign-in: none\\)`));
      const lan = lanAddress();
      if (lan) assert.equal(await connects(lan, port), false, `reachable on ${lan}:${port}`);
      assert.equal(await connects('127.0.0.1', port), true);
    });

    test('open on loopback, but only to loopback names (a rebinding DNS name is turned away)', async () => {
      const ok = await request(server.url, 'GET', '/api/videos');
      assert.equal(ok.status, 200);
      assert.equal(JSON.parse(ok.text).videos.length, 1);
      const rebound = await request(server.url, 'GET', '/api/videos', { headers: { Host: `attacker.example:${new URL(server.url).port}` } });
      assert.equal(rebound.status, 403);
      assert.doesNotMatch(rebound.text, /red\.mp4/);
      assert.equal((await request(server.url, 'GET', '/api/videos', { headers: { Host: `localhost:${new URL(server.url).port}` } })).status, 200);
    });
  });

  describe('with VIDSEARCH_PASSWORD and VIDSEARCH_API_TOKEN (on loopback: a set credential is asked for there too)', () => {
    let server: NextServer;
    let base = '';
    let origin: Record<string, string>;
    let cookie = '';
    const guarded = () => [
      '/',
      '/library',
      '/actions',
      `/videos/${videoId}`,
      '/api/search?q=red',
      '/api/videos',
      `/api/videos/${videoId}`,
      `/api/videos/${videoId}/stream`,
      `/api/videos/${videoId}/thumbnail`,
      '/api/actions/labels',
      '/no-such-page',
    ];

    before(async () => {
      server = await startNext({ ...env, VIDSEARCH_PASSWORD: PASSWORD, VIDSEARCH_API_TOKEN: TOKEN });
      base = server.url;
      origin = { Origin: base };
    });
    after(() => server?.stop());

    test('without a credential: pages redirect to /login?next=…, API routes answer 401 with WWW-Authenticate: Bearer', async () => {
      for (const p of guarded()) {
        const a = await request(base, 'GET', p);
        if (p.startsWith('/api/')) {
          assert.equal(a.status, 401, p);
          assert.match(String(a.headers['www-authenticate']), /^Bearer /, p);
          assert.match(String(a.headers['content-type']), /application\/json/, p);
          assert.doesNotMatch(a.text, /red\.mp4|\/tmp\//, p);
        } else {
          assert.equal(a.status, 303, p);
          assert.equal(a.headers.location, p === '/' ? '/login' : `/login?next=${encodeURIComponent(p)}`, p);
        }
      }
      for (const p of [`/api/videos/${videoId}/stream`, `/api/videos/${videoId}/thumbnail`]) assert.equal((await request(base, 'HEAD', p)).status, 401, `HEAD ${p}`);
      assert.equal((await request(base, 'POST', '/api/actions', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ videoId }) })).status, 401);
    });

    test('no way around the gate: dot segments, encoded slashes, absolute-form targets', async () => {
      for (const p of [
        '/_next/static/../../api/videos',
        '/_next/static/%2e%2e/%2e%2e/api/videos',
        '/_next/static/..%2f..%2fapi/videos',
        '/login/../api/videos',
        '/login%2f..%2fapi/videos',
        '/api/videos/',
        '/api//videos',
        `http://${new URL(base).host}/api/videos`,
      ]) {
        const a = await request(base, 'GET', p);
        assert.ok([303, 400, 401, 404].includes(a.status), `${p}: ${a.status}`);
        assert.doesNotMatch(a.text, /red\.mp4/, p);
      }
    });

    test('open without a credential: the sign-in page, its static files, and a health answer that says only ok', async () => {
      const page = await request(base, 'GET', '/login?next=%2Flibrary');
      assert.equal(page.status, 200);
      const formTag = /<form[^>]*>/.exec(page.text)?.[0] ?? '';
      assert.match(formTag, /method="post"/);
      assert.match(formTag, /action="\/login"/);
      assert.match(page.text, /type="password"/);
      assert.match(page.text, /name="next" value="\/library"/);
      const css = /href="(\/_next\/static\/[^"]+\.css)"/.exec(page.text)?.[1];
      assert.ok(css, 'the page links its stylesheet');
      assert.equal((await request(base, 'GET', css)).status, 200);
      const health = await request(base, 'GET', '/api/health');
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.text), { ok: true });
      // With the token, the full answer.
      assert.equal(JSON.parse((await request(base, 'GET', '/api/health', { headers: { Authorization: `Bearer ${TOKEN}` } })).text).videos, 1);
      // next=//evil.com is not carried into the form.
      assert.match((await request(base, 'GET', '/login?next=//evil.com')).text, /name="next" value="\/"/);
    });

    test('wrong password: back to the form with an error, no cookie', async () => {
      const a = await request(base, 'POST', '/login', { headers: { ...FORM, ...origin }, body: form({ password: 'wrong password!', next: '/library' }) });
      assert.equal(a.status, 303);
      assert.equal(a.headers.location, '/login?error=wrong&next=%2Flibrary');
      assert.equal(sessionFrom(a), undefined);
      const page = await request(base, 'GET', a.headers.location!);
      assert.match(page.text, /data-testid="login-error"[^>]*>Wrong password/);
    });

    test('right password: an HttpOnly session cookie and a redirect to next; then pages and routes load', async () => {
      const a = await request(base, 'POST', '/login', { headers: { ...FORM, ...origin }, body: form({ password: PASSWORD, next: '/library?status=indexed' }) });
      assert.equal(a.status, 303);
      assert.equal(a.headers.location, '/library?status=indexed');
      const s = sessionFrom(a);
      assert.ok(s, 'a session cookie');
      assert.match(s.header, /; HttpOnly/);
      assert.match(s.header, /; SameSite=Lax/);
      assert.match(s.header, /; Path=\//);
      assert.match(s.header, new RegExp(`; Max-Age=${SESSION_SECONDS}`));
      assert.doesNotMatch(s.header, /Secure/, 'plain http: a Secure cookie would never come back');
      cookie = `${SESSION_COOKIE}=${s.value}`;

      for (const p of guarded().filter((p) => p !== '/no-such-page')) {
        const r = await request(base, 'GET', p, { headers: { Cookie: cookie } });
        assert.ok(r.status === 200 || r.status === 206, `${p}: ${r.status} ${r.text.slice(0, 200)}`);
      }
      const results = JSON.parse((await request(base, 'GET', '/api/search?q=red', { headers: { Cookie: cookie } })).text);
      assert.equal(results.results[0].videoId, videoId);
      const thumb = await request(base, 'GET', `/api/videos/${videoId}/thumbnail`, { headers: { Cookie: cookie } });
      assert.equal(thumb.headers['content-type'], 'image/jpeg');
      // Signed-in answers stay out of shared caches (the route itself says "public").
      assert.equal(thumb.headers['cache-control'], 'private, max-age=86400');
      const labels = await request(base, 'GET', '/api/actions/labels/ucf101', { headers: { Authorization: `Bearer ${TOKEN}` } });
      assert.equal(labels.status, 200);
      assert.equal(labels.headers['cache-control'], 'private, max-age=3600');
      const library = await request(base, 'GET', '/library', { headers: { Cookie: cookie } });
      assert.match(library.text, /red\.mp4/);
      assert.match(library.text, /<form[^>]*action="\/logout"/, 'a sign-out button');
      // Signed in already: /login goes straight on (and still only to a local path).
      assert.equal((await request(base, 'GET', '/login?next=%2Factions', { headers: { Cookie: cookie } })).headers.location, '/actions');
      assert.equal((await request(base, 'GET', '/login?next=//evil.com', { headers: { Cookie: cookie } })).headers.location, '/');
      // Behind an https proxy the cookie is Secure.
      const secure = await request(base, 'POST', '/login', { headers: { ...FORM, ...origin, 'X-Forwarded-Proto': 'https' }, body: form({ password: PASSWORD }) });
      assert.match(sessionFrom(secure)!.header, /; Secure/);
    });

    test('the bearer token works for the API; a wrong one does not', async () => {
      for (const p of ['/api/search?q=red', '/api/videos', `/api/videos/${videoId}/stream`]) {
        const r = await request(base, 'GET', p, { headers: { Authorization: `Bearer ${TOKEN}` } });
        assert.ok(r.status === 200 || r.status === 206, `${p}: ${r.status}`);
      }
      const stream = await request(base, 'GET', `/api/videos/${videoId}/stream`, { headers: { Authorization: `Bearer ${TOKEN}`, Range: 'bytes=0-9' } });
      assert.equal(stream.status, 206);
      assert.equal(stream.body.length, 10);
      for (const auth of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, TOKEN, `Basic ${TOKEN}`]) {
        const r = await request(base, 'GET', '/api/videos', { headers: { Authorization: auth }, from: '127.0.0.4' });
        assert.equal(r.status, 401, auth);
      }
    });

    test('tampered, expired and forged cookies are refused; the secret file is private', async () => {
      const secretFile = path.join(cfg.home, SECRET_FILE);
      assert.equal(fs.statSync(secretFile).mode & 0o777, 0o600);
      const key = sessionKey(fs.readFileSync(secretFile), PASSWORD);
      const now = Math.floor(Date.now() / 1000);
      const value = cookie.slice(SESSION_COOKIE.length + 1);
      const [, exp, sig] = value.split('.');
      const bad = {
        tampered: `v1.${exp}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`,
        'longer expiry': `v1.${Number(exp) + 1000}.${sig}`,
        expired: signSession(key, now - 10),
        'other password': signSession(sessionKey(fs.readFileSync(secretFile), 'another password'), now + 3600),
        garbage: 'admin',
      };
      // The test forges the way the server signs: the same construction with a live expiry passes.
      assert.equal((await request(base, 'GET', '/api/videos', { headers: { Cookie: `${SESSION_COOKIE}=${signSession(key, now + 3600)}` } })).status, 200);
      for (const [what, v] of Object.entries(bad)) {
        assert.equal((await request(base, 'GET', '/api/videos', { headers: { Cookie: `${SESSION_COOKIE}=${v}` } })).status, 401, what);
        assert.equal((await request(base, 'GET', '/library', { headers: { Cookie: `${SESSION_COOKIE}=${v}` } })).status, 303, what);
      }
    });

    test('no open redirect: next=//evil.com and friends land on /', async () => {
      for (const next of ['//evil.com', 'https://evil.com/', '/\\evil.com', '//evil.com/%2e%2e', '/\t/evil.com']) {
        const a = await request(base, 'POST', '/login', { headers: { ...FORM, ...origin }, body: form({ password: PASSWORD, next }) });
        assert.equal(a.status, 303, next);
        assert.equal(a.headers.location, '/', next);
      }
    });

    test('cross-site requests: a sign-in or a cookie-authenticated POST from another origin is refused', async () => {
      const evil = { Origin: 'http://evil.example' };
      assert.equal((await request(base, 'POST', '/login', { headers: { ...FORM, ...evil }, body: form({ password: PASSWORD }) })).status, 403);
      const post = (headers: Record<string, string>) =>
        request(base, 'POST', '/api/actions', { headers: { 'Content-Type': 'application/json', Cookie: cookie, ...headers }, body: JSON.stringify({ videoId }) });
      assert.equal((await post(evil)).status, 403);
      assert.equal((await post({})).status, 403, 'no Origin, no Referer: not known to be ours');
      assert.equal((await post({ Referer: 'http://evil.example/page' })).status, 403);
      // Our own origin passes the gate (the route then wants the API token, which it always has).
      assert.notEqual((await post(origin)).status, 403);
      // A bearer token is never sent by a browser on its own: no Origin needed.
      assert.equal((await request(base, 'POST', '/api/actions', { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ videoId }) })).status, 200);
    });

    test('wrong passwords from one address: after five, that address waits (even the right password), others do not', { timeout: 60_000 }, async () => {
      const from = '127.0.0.2';
      const attempt = (password: string) => request(base, 'POST', '/login', { headers: { ...FORM, ...origin }, body: form({ password }), from });
      for (let i = 0; i < 5; i++) assert.match((await attempt(`guess ${i} guess`)).headers.location!, /error=wrong/);
      const locked = await attempt(PASSWORD);
      assert.match(locked.headers.location!, /^\/login\?error=wait&retry=\d+/);
      assert.equal(sessionFrom(locked), undefined);
      assert.match((await request(base, 'GET', locked.headers.location!)).text, /Too many wrong passwords/);
      // Another address is not held up.
      assert.ok(sessionFrom(await request(base, 'POST', '/login', { headers: { ...FORM, ...origin }, body: form({ password: PASSWORD }) })));
      // Wrong tokens count too.
      for (let i = 0; i < 5; i++) assert.equal((await request(base, 'GET', '/api/videos', { headers: { Authorization: `Bearer nope-${i}` }, from: '127.0.0.3' })).status, 401);
      const r = await request(base, 'GET', '/api/videos', { headers: { Authorization: `Bearer ${TOKEN}` }, from: '127.0.0.3' });
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers['retry-after']) >= 1);
    });

    test('sign out: POST /logout clears the cookie and goes to the sign-in page', async () => {
      const a = await request(base, 'POST', '/logout', { headers: { Cookie: cookie, ...origin } });
      assert.equal(a.status, 303);
      assert.equal(a.headers.location, '/login?signedout=1');
      const cleared = sessionFrom(a);
      assert.ok(cleared && cleared.value === '' && /Max-Age=0/.test(cleared.header));
      assert.match((await request(base, 'GET', '/login?signedout=1')).text, /You are signed out/);
      assert.equal((await request(base, 'POST', '/logout', { headers: { Cookie: cookie, Origin: 'http://evil.example' } })).status, 403);
    });
  });
});
