// The production server (scripts/server.ts over the built app, as `npm start` runs it) over real
// HTTP: requests Next.js would answer with a 500 get their 4xx (malformed percent-encoding → 400,
// TRACE → 405), and the stream and thumbnail of a library file that is not servable are refused
// end to end (security issue 10, items 2 and 9). Reuses the build the browser test makes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { tempDir, testConfig } from './helpers';
import { ensureBuilt, startNext, type NextServer } from './next-server';

let server: NextServer;
const ids: Record<string, number> = {};
let edited = '';

/** A raw request: the path goes on the wire exactly as written (fetch would refuse TRACE). */
function request(method: string, target: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: target, headers: { connection: 'close', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // A request the server never answers (the old server did that to a bad Host) fails, not hangs.
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${target}: no answer within 15 s`)));
    req.end();
  });
}

before(
  async () => {
    const lib = tempDir('vidsearch-lib-');
    await makeColorVideo(path.join(lib, 'red.mp4'), [{ color: TEST_COLORS.red as RGB, seconds: 2 }]);
    edited = path.join(lib, 'edited.mp4');
    await makeColorVideo(edited, [{ color: TEST_COLORS.blue as RGB, seconds: 2 }]);
    // A file recorded as failed, then swapped for a link to a secret (indexing never follows a link
    // out of the library, so only a swap after indexing can make such a row).
    fs.writeFileSync(path.join(lib, 'passwd.mp4'), 'not a video\n');
    const cfg = await testConfig();
    const engine = await openEngine(cfg, { writer: true });
    try {
      await indexTargets(engine, [lib]);
      for (const v of await engine.store.videos()) ids[path.basename(v.path, '.mp4')] = v.id;
    } finally {
      await engine.close();
    }
    fs.rmSync(path.join(lib, 'passwd.mp4'));
    fs.symlinkSync('/etc/passwd', path.join(lib, 'passwd.mp4'));
    fs.appendFileSync(edited, 'changed after indexing');
    await ensureBuilt();
    server = await startNext({ VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, VIDSEARCH_THREADS: '1' });
  },
  { timeout: 600_000 },
);

after(() => server?.stop());

describe('the production server answers 4xx, not 500', () => {
  for (const target of [
    '/api/videos/%',
    '/api/videos/1%',
    '/api/videos/%/stream',
    '/api/videos/%/thumbnail',
    '/api/videos/%C0%AE',
    '/api/actions/labels/%',
    '/api/actions/labels/%C0%AE%C0%AE',
    '/videos/%',
    '/videos/%C0%AE%C0%AE',
    '/videos/%E0%A4%A',
    '/actions/%',
    '/actions/%C0%AE',
    '/%C0%AE',
  ]) {
    test(`GET ${target} → 400`, async () => {
      const res = await request('GET', target);
      assert.equal(res.status, 400, `${target}: ${res.status} ${res.body.toString().slice(0, 200)}`);
      if (target.startsWith('/api/')) assert.match(JSON.parse(res.body.toString()).error, /malformed/);
    });
  }

  for (const target of ['/api/health', '/api/videos', '/api/videos/1', '/api/videos/1/stream', '/api/videos/1/thumbnail', '/api/search?q=red', '/api/actions', '/api/actions/labels', '/']) {
    test(`TRACE ${target} → 405 with Allow`, async () => {
      const res = await request('TRACE', target, { 'x-secret': 'must not be echoed' });
      assert.equal(res.status, 405, `${target}: ${res.status}`);
      assert.match(String(res.headers.allow), /GET/);
      assert.ok(!res.body.toString().includes('must not be echoed'));
    });
  }

  test('a Host header that makes no URL → 400, and the server keeps serving', async () => {
    const res = await request('GET', '/api/health', { host: 'a b' });
    assert.equal(res.status, 400);
    assert.equal((await request('GET', '/api/health')).status, 200);
  });

  test('well-formed requests still go through', async () => {
    assert.equal((await request('GET', '/api/health')).status, 200);
    assert.equal((await request('GET', `/videos/${ids.red}`)).status, 200);
    assert.equal((await request('GET', '/videos/%39%39%39')).status, 404, 'percent-encoded digits decode fine: no video 999 is a 404, not a 400');
  });
});

describe('the production server serves library files only', () => {
  test('a symlink to /etc/passwd: stream and thumbnail 404, not a byte of it', async () => {
    const secret = fs.readFileSync('/etc/passwd').subarray(0, 64);
    for (const suffix of ['stream', 'thumbnail']) {
      const res = await request('GET', `/api/videos/${ids.passwd}/${suffix}`);
      assert.equal(res.status, 404, suffix);
      assert.ok(!res.body.includes(secret), `${suffix} leaked /etc/passwd`);
    }
  });

  test('a file changed since indexing: stream and thumbnail 409 with the reason', async () => {
    for (const suffix of ['stream', 'thumbnail']) {
      const res = await request('GET', `/api/videos/${ids.edited}/${suffix}`);
      assert.equal(res.status, 409, suffix);
      assert.match(JSON.parse(res.body.toString()).error, /changed since it was indexed/);
    }
    assert.equal((await request('GET', `/api/videos/${ids.red}/stream`)).status, 200);
  });

  test('the pages say so: the video page explains instead of a broken player, the library marks the file', async () => {
    const page = (await request('GET', `/videos/${ids.edited}`)).body.toString();
    assert.match(page, /data-testid="file-state" data-state="changed"/);
    assert.match(page, /changed since it was indexed/);
    assert.doesNotMatch(page, /data-testid="player"/);
    const library = (await request('GET', '/library')).body.toString();
    assert.match(library, /data-state="changed"[^>]*>file changed</);
    assert.match(library, /data-state="outside"[^>]*>outside the library</);
  });
});
