// The HTTP API: the route handlers called as Next.js calls them (a Request, params as a promise),
// on a data directory indexed from generated videos with the test model. The built server is
// covered by the browser test; here each handler's contract is checked directly. On SQLite, or on
// PostgreSQL with `VIDSEARCH_TEST_STORES=postgres` (test/backends.ts fileBackend).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../indexer/services/config';
import { openEngine } from '../indexer/services/engine';
import { resolveTools } from '../indexer/io/ffmpeg/media';
import { indexFile, indexTargets } from '../indexer/services/pipeline';
import { recordLibraryRoots } from '../indexer/services/library';
import { MAX_QUERY_CHARS } from '../indexer/services/search';
import { TEST_COLORS } from '../indexer/testkit/build';
import { GET as health } from '../app/api/health/route';
import { GET as search } from '../app/api/search/route';
import { GET as videoDetail } from '../app/api/videos/[id]/route';
import { GET as stream, HEAD as streamHead } from '../app/api/videos/[id]/stream/route';
import { GET as thumbnail } from '../app/api/videos/[id]/thumbnail/route';
import { GET as videos } from '../app/api/videos/route';
import { contentType, parseRange } from '../app/lib/stream';
import { pruneThumbnails } from '../app/lib/thumbnails';
import { makeColorVideo, makeTextFile, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testConfig, resetAppEngine } from './helpers';
import { forgetProcessConfig } from '../indexer/services/config';
import { fileBackend, queueRuns } from './backends';

const backend = fileBackend();
/** the suites that index through `vidsearch index` (the job queue) */
const needsQueue = { skip: !queueRuns(backend) && 'needs the job queue on PostgreSQL (branch d-pg-queue)' };

type Handler = (req: Request, ctx: { params: Promise<{ id: string }> }) => Promise<Response>;

const rgb = (name: string) => TEST_COLORS[name] as RGB;

async function call(handler: Handler, url: string, opts: { id?: string; headers?: HeadersInit; method?: string } = {}): Promise<Response> {
  const req = new Request(new URL(url, 'http://localhost'), { headers: opts.headers, method: opts.method });
  return handler(req, { params: Promise.resolve({ id: opts.id ?? '' }) });
}

async function getJson(handler: Handler, url: string, id?: string): Promise<{ status: number; body: any }> {
  const res = await call(handler, url, { id });
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return { status: res.status, body: await res.json() };
}

const bytes = async (res: Response) => Buffer.from(await res.arrayBuffer());

/** The average colour of a picture, each channel rounded to 0 or 255 (the videos are solid colours). */
async function meanColor(jpeg: Buffer): Promise<RGB> {
  const args = ['-v', 'error', '-i', 'pipe:0', '-vf', 'scale=1:1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
  const out = spawnSync(resolveTools().ffmpeg, args, { input: jpeg });
  assert.equal(out.status, 0, String(out.stderr));
  return [...out.stdout.subarray(0, 3)].map((c) => (c > 127 ? 255 : 0)) as RGB;
}

let cfg: Config;
let lib: string;
const ids: Record<string, number> = {};
const files: Record<string, string> = {};

function cliEnv(): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = { PATH: process.env.PATH, VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, VIDSEARCH_THREADS: '1' };
  if (backend.name === 'postgres') env.DATABASE_URL = cfg.databaseUrl;
  return env as NodeJS.ProcessEnv;
}

/** `vidsearch …` in a child, without blocking this process (which may be serving its database). */
async function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr };
}

before(async () => {
  lib = tempDir('vidsearch-lib-');
  const videos: Array<[string, Array<{ color: RGB; seconds: number }>]> = [
    ['red', [{ color: rgb('red'), seconds: 2 }]],
    ['green', [{ color: rgb('green'), seconds: 2 }]],
    ['blue', [{ color: rgb('blue'), seconds: 2 }]],
    ['brg', [{ color: rgb('blue'), seconds: 4 }, { color: rgb('red'), seconds: 4 }, { color: rgb('green'), seconds: 4 }]],
    ['gone', [{ color: rgb('yellow'), seconds: 2 }]],
  ];
  for (const [name, parts] of videos) {
    files[name] = path.join(lib, `${name}.mp4`);
    await makeColorVideo(files[name], parts);
  }
  files.broken = path.join(lib, 'broken.mp4');
  await makeTextFile(files.broken);
  const fresh = await backend.fresh();
  cfg = await testConfig({ home: fresh.home, databaseUrl: fresh.databaseUrl });
  const engine = await openEngine(cfg, { writer: true });
  try {
    if (queueRuns(backend)) {
      const report = await indexTargets(engine, [lib]);
      assert.equal(report.indexed.length, 5);
    } else {
      // The same library file by file, without the queue (test/backends.ts queueRuns), its folder
      // recorded as a root as an index run records it.
      await recordLibraryRoots(engine.store, [lib]);
      const results = [];
      for (const f of Object.values(files).sort()) results.push(await indexFile(engine, f));
      assert.equal(results.filter((r) => r.status === 'indexed').length, 5);
    }
    for (const v of await engine.store.videos()) ids[path.basename(v.path, '.mp4')] = v.id;
  } finally {
    await engine.close();
  }
  fs.rmSync(files.gone);
  process.env.VIDSEARCH_HOME = cfg.home;
  if (backend.name === 'postgres') process.env.DATABASE_URL = cfg.databaseUrl;
  process.env.VIDSEARCH_MODEL = cfg.model;
  process.env.VIDSEARCH_THREADS = '1';
});

after(resetAppEngine);

describe('GET /api/search', () => {
  test('"red" finds the red video first, in the CLI\'s JSON shape', async () => {
    const { status, body } = await getJson(search, '/api/search?q=red&k=3');
    assert.equal(status, 200);
    assert.equal(body.query, 'red');
    assert.equal(typeof body.tookMs, 'number');
    assert.equal(body.results.length, 3);
    assert.equal(body.results[0].path, files.red);
    for (const key of ['videoId', 'path', 'duration', 'score', 'start', 'end', 'bestTime', 'moments']) assert.ok(key in body.results[0], key);
    assert.deepEqual(Object.keys(body.results[0].moments[0]).sort(), ['bestTime', 'end', 'match', 'score', 'start']);
    // The CLI's own --json output for the same query is the reference.

    // Not spawnSync: on PostgreSQL the PGlite server the CLI talks to runs in this process.
    const cli = await runCli(['search', 'red', '--k', '3', '--json']);
    assert.equal(cli.status, 0, cli.stderr);
    const { tookMs: _a, ...fromCli } = JSON.parse(cli.stdout);
    const { tookMs: _b, ...fromApi } = body;
    assert.deepEqual(fromApi, fromCli);
  });

  test('the red moment inside blue→red→green', async () => {
    const { body } = await getJson(search, `/api/search?q=${encodeURIComponent('a red wall')}&k=10`);
    const brg = body.results.find((r: { videoId: number }) => r.videoId === ids.brg);
    assert.ok(brg.bestTime >= 4 && brg.bestTime < 8, `bestTime ${brg.bestTime}`);
  });

  for (const [what, query] of [
    ['missing q', ''],
    ['empty q', 'q='],
    ['blank q', 'q=%20%20'],
    ['q too long', `q=${'a'.repeat(MAX_QUERY_CHARS + 1)}`],
    ['k=0', 'q=red&k=0'],
    ['k=abc', 'q=red&k=abc'],
    ['k=1000', 'q=red&k=1000'],
    ['k=1.5', 'q=red&k=1.5'],
    ['k=1e1', 'q=red&k=1e1'],
    ['k empty', 'q=red&k='],
  ]) {
    test(`400 on ${what}`, async () => {
      const { status, body } = await getJson(search, `/api/search?${query}`);
      assert.equal(status, 400);
      assert.equal(typeof body.error, 'string');
      assert.ok(body.error.length > 0 && body.error.length < 200, body.error);
    });
  }
});

describe('GET /api/videos', () => {
  test('a page of the library with the total; dates as ISO strings', async () => {
    const { status, body } = await getJson(videos, '/api/videos');
    assert.equal(status, 200);
    assert.deepEqual([body.total, body.offset, body.limit], [6, 0, 100]);
    assert.deepEqual(body.videos.map((v: { path: string }) => path.basename(v.path)), ['blue.mp4', 'brg.mp4', 'broken.mp4', 'gone.mp4', 'green.mp4', 'red.mp4']);
    const red = body.videos.find((v: { id: number }) => v.id === ids.red);
    assert.equal(red.size, fs.statSync(files.red).size);
    assert.equal(red.status, 'indexed');
    assert.equal(red.indexedAt, new Date(red.indexedAt).toISOString());
    assert.equal(red.createdAt, new Date(red.createdAt).toISOString());
    assert.ok(!('vector' in red));

    const page = await getJson(videos, '/api/videos?offset=1&limit=2');
    assert.deepEqual([page.body.total, page.body.offset, page.body.limit, page.body.videos.length], [6, 1, 2, 2]);
    assert.equal(path.basename(page.body.videos[0].path), 'brg.mp4');
  });

  test('status filter', async () => {
    const failed = await getJson(videos, '/api/videos?status=failed');
    assert.equal(failed.body.total, 1);
    assert.equal(failed.body.videos[0].path, files.broken);
    assert.match(failed.body.videos[0].error, /not a video/);
    assert.equal((await getJson(videos, '/api/videos?status=indexed')).body.total, 5);
    assert.equal((await getJson(videos, '/api/videos?status=pending')).body.total, 0);
  });

  for (const query of ['status=done', 'status=', 'offset=-1', 'offset=x', 'limit=0', 'limit=501', 'limit=10.5']) {
    test(`400 on ${query}`, async () => {
      const { status, body } = await getJson(videos, `/api/videos?${query}`);
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(typeof body.error, 'string');
    });
  }
});

describe('GET /api/videos/:id', () => {
  test('a video with its segments, without vectors', async () => {
    const { status, body } = await getJson(videoDetail, `/api/videos/${ids.brg}`, String(ids.brg));
    assert.equal(status, 200);
    assert.equal(body.path, files.brg);
    assert.equal(body.duration, 12);
    assert.deepEqual(body.segments, [
      { idx: 0, start: 0, end: 10 },
      { idx: 1, start: 10, end: 12 },
    ]);
  });

  test('404 for an unknown id, 400 for a non-integer one', async () => {
    const missing = await getJson(videoDetail, '/api/videos/999999', '999999');
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /no video with id 999999/);
    assert.equal((await getJson(videoDetail, '/api/videos/abc', 'abc')).status, 400);
  });
});

describe('GET /api/videos/:id/stream', () => {
  let whole: Buffer;
  const get = (headers: HeadersInit = {}, id = String(ids.red)) => call(stream, `/api/videos/${id}/stream`, { id, headers });

  before(() => {
    whole = fs.readFileSync(files.red);
  });

  test('the whole file: 200, length, type, Accept-Ranges', async () => {
    const res = await get();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/mp4');
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.equal(res.headers.get('content-length'), String(whole.length));
    assert.ok((await bytes(res)).equals(whole));
  });

  test('HEAD: the same headers, no body', async () => {
    const res = await call(streamHead, '/x', { id: String(ids.red), method: 'HEAD', headers: { range: 'bytes=0-9' } });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get('content-length'), '10');
    assert.equal(res.body, null);
  });

  for (const [header, start, end] of [
    ['bytes=0-99', 0, 99],
    ['bytes=100-199', 100, 199],
    ['bytes=-50', -50, -1],
    ['bytes=1000-', 1000, -1],
    ['bytes=10-999999999', 10, -1],
    ['Bytes = 5 - 6', 5, 6],
  ] as const) {
    test(`Range ${header} → 206 with those bytes`, async () => {
      const size = whole.length;
      const from = start < 0 ? size + start : start;
      const to = end < 0 ? size + end : end;
      const res = await get({ range: header });
      assert.equal(res.status, 206);
      assert.equal(res.headers.get('content-range'), `bytes ${from}-${to}/${size}`);
      assert.equal(res.headers.get('content-length'), String(to - from + 1));
      assert.ok((await bytes(res)).equals(whole.subarray(from, to + 1)));
    });
  }

  test('unsatisfiable ranges → 416 with the size', async () => {
    for (const header of ['bytes=999999999-', `bytes=${whole.length}-`, 'bytes=-0']) {
      const res = await get({ range: header });
      assert.equal(res.status, 416, header);
      assert.equal(res.headers.get('content-range'), `bytes */${whole.length}`);
      await res.body?.cancel();
    }
  });

  test('malformed or multiple ranges are ignored: the whole file', async () => {
    for (const header of ['bytes=abc', 'bytes=5-2', 'items=0-10', 'bytes=-', 'bytes=0-1,5-6', '0-10']) {
      const res = await get({ range: header });
      assert.equal(res.status, 200, header);
      assert.equal((await bytes(res)).length, whole.length);
    }
  });

  test('If-Range with another version: the whole file', async () => {
    const etag = (await get()).headers.get('etag')!;
    assert.equal((await get({ range: 'bytes=0-9', 'if-range': etag })).status, 206);
    assert.equal((await get({ range: 'bytes=0-9', 'if-range': '"other"' })).status, 200);
  });

  test('a file gone from disk → 404; a file recorded as failed is not served (only indexed videos are)', async () => {
    const gone = await get({}, String(ids.gone));
    assert.equal(gone.status, 404);
    assert.match((await gone.json()).error, /gone from disk/);
    const broken = await get({}, String(ids.broken));
    assert.equal(broken.status, 404);
    assert.match((await broken.json()).error, /failed.*only indexed videos are served/);
  });

  test('path traversal and odd ids: 4xx, and never a byte of a file outside the index', async () => {
    const secrets = [fs.readFileSync('/etc/passwd'), fs.readFileSync(files.red)];
    const attempts = ['..%2F..%2Fetc%2Fpasswd', '../../etc/passwd', '%2e%2e', '..', '/etc/passwd', '1/../../x', '-1', '1e3', '0x1', '0', ' 1', '1 ', '1.0', `${ids.red}%00`, '9'.repeat(30), ''];
    for (const id of attempts) {
      for (const handler of [stream, videoDetail, thumbnail] as Handler[]) {
        const res = await call(handler, '/api/videos/x', { id });
        assert.ok(res.status >= 400 && res.status < 500, `${id}: ${res.status}`);
        const body = await bytes(res);
        assert.match(res.headers.get('content-type') ?? '', /application\/json/, id);
        for (const secret of secrets) assert.ok(!body.includes(secret.subarray(0, 32)), `${id} leaked bytes`);
      }
    }
  });

  test('media types by extension', () => {
    assert.equal(contentType('/a/b.MP4'), 'video/mp4');
    assert.equal(contentType('/a/b.webm'), 'video/webm');
    assert.equal(contentType('/a/b.mkv'), 'video/x-matroska');
    assert.equal(contentType('/a/b.mov'), 'video/quicktime');
    assert.equal(contentType('/a/b.weird'), 'application/octet-stream');
  });

  test('an empty file: 200 with no bytes, every range unsatisfiable', () => {
    assert.equal(parseRange(null, 0), 'full');
    assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
    assert.equal(parseRange('bytes=-5', 0), 'unsatisfiable');
  });
});

describe('GET /api/videos/:id/thumbnail', () => {
  const get = (id: number | string, query = '') => call(thumbnail, `/api/videos/${id}/thumbnail${query}`, { id: String(id) });

  test('a JPEG of the frame at t, cached on disk and for a day', async () => {
    const dir = path.join(cfg.home, 'thumbnails');
    const res = await get(ids.brg, '?t=5');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.match(res.headers.get('cache-control') ?? '', /max-age=86400/);
    const red = await bytes(res);
    assert.deepEqual([...red.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    const st = fs.statSync(files.brg);
    const cached = path.join(dir, `${ids.brg}-5000-${st.size}-${Math.floor(st.mtimeMs)}.jpg`);
    assert.ok(fs.readFileSync(cached).equals(red));
    const written = fs.statSync(cached);
    assert.ok((await bytes(await get(ids.brg, '?t=5'))).equals(red));
    // ffmpeg writes a new file and renames it into place, so an unchanged inode means no re-render.
    assert.equal(fs.statSync(cached).ino, written.ino, 'served from the cache');

    assert.deepEqual(await meanColor(red), rgb('red'));
    assert.deepEqual(await meanColor(await bytes(await get(ids.brg))), rgb('blue'), 'the default is the first frame');
    assert.ok(fs.existsSync(path.join(dir, `${ids.brg}-0-${st.size}-${Math.floor(st.mtimeMs)}.jpg`)));
    assert.equal((await get(ids.brg, '?t=12')).status, 200, 't = duration is the last frame');
  });

  test('the cache keeps to its budget: the least recently used thumbnails go first', async () => {
    const dir = tempDir('vidsearch-thumbs-');
    const day = 86_400_000;
    // ten 10 kB files used on days 1..10 (file 3 was used last, today)
    for (let i = 1; i <= 10; i++) {
      const file = path.join(dir, `${i}.jpg`);
      fs.writeFileSync(file, Buffer.alloc(10_000));
      const used = new Date(Date.now() - (20 - i) * day);
      fs.utimesSync(file, i === 3 ? new Date() : used, used);
    }
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a thumbnail');
    assert.deepEqual(await pruneThumbnails(dir, 200_000), { files: 10, bytes: 100_000, removed: 0, freed: 0 }, 'within budget: nothing removed');
    const r = await pruneThumbnails(dir, 50_000);
    assert.equal(r.removed, 6, 'down to 80 % of the budget');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['10.jpg', '3.jpg', '8.jpg', '9.jpg', 'notes.txt']);
    // A hit through the route marks the file used.
    const st = fs.statSync(files.brg);
    const cached = path.join(cfg.home, 'thumbnails', `${ids.brg}-5000-${st.size}-${Math.floor(st.mtimeMs)}.jpg`);
    await bytes(await get(ids.brg, '?t=5'));
    const old = new Date(Date.now() - 30 * day);
    fs.utimesSync(cached, old, old);
    const changed = fs.statSync(cached).ctimeMs;
    await sleep(20); // past the kernel's coarse clock tick, so the route's own utimes moves ctime
    await bytes(await get(ids.brg, '?t=5'));
    assert.ok(fs.statSync(cached).atimeMs > Date.now() - day, 'a cache hit refreshes the access time');
    // relatime disks refresh a day-old atime on any read; ctime moves only when the route sets it.
    assert.ok(fs.statSync(cached).ctimeMs > changed, 'the route set it (noatime disks)');
    // utimes goes through a double of seconds, so the time read back may differ by a microsecond.
    assert.ok(Math.abs(fs.statSync(cached).mtimeMs - old.getTime()) < 1, 'and leaves the content time alone');
  });

  test('400 for t outside [0, duration] or not a number; 404 unknown, failed or gone', async () => {
    for (const t of ['12.5', '-1', 'abc', '', 'NaN', 'Infinity', '1e1']) {
      const res = await get(ids.brg, `?t=${t}`);
      assert.equal(res.status, 400, `t=${t}`);
      assert.equal(typeof (await res.json()).error, 'string');
    }
    for (const id of [999999, ids.broken, ids.gone]) assert.equal((await get(id)).status, 404, `id ${id}`);
  });
});

// The health report includes the job queue and the libraries.
describe('GET /api/health', needsQueue, () => {
  test('ok: videos, model and index', async () => {
    const { status, body } = await getJson(health, '/api/health');
    assert.equal(status, 200);
    assert.deepEqual(body, {
      ok: true,
      videos: 5,
      model: { name: 'vidsearch-test-clip', variant: 'fp32', dim: 8 },
      index: { vectors: 6, inStep: true, bytes: body.index.bytes },
      libraries: [],
      // The library was indexed through the queue: one job per file, the text file failed.
      queue: { queued: 0, running: 0, done: 5, failed: 1 },
      workers: [],
      daemon: null,
    });
    assert.ok(body.index.bytes > 0);
  });

  test('503 with the reason when the model is missing; recovers without a restart', async () => {
    await resetAppEngine();
    const model = process.env.VIDSEARCH_MODEL;
    process.env.VIDSEARCH_MODEL = path.join(tempDir(), 'no-such-model');
    try {
      const { status, body } = await getJson(health, '/api/health');
      assert.equal(status, 503);
      assert.equal(body.ok, false);
      assert.match(body.error, /model not found.*vidsearch models pull/);
      const searched = await getJson(search, '/api/search?q=red');
      assert.equal(searched.status, 503);
      assert.match(searched.body.error, /vidsearch models pull/);
    } finally {
      process.env.VIDSEARCH_MODEL = model;
    }
    // The setting back (read anew: the app keeps the process's configuration): the failed open was not kept.
    forgetProcessConfig();
    assert.equal((await health()).status, 200);
  });
});

describe('a server started before anything was indexed', needsQueue, () => {
  test('answers with an empty library, then finds what `vidsearch index` adds, without a restart', async () => {
    const home = process.env.VIDSEARCH_HOME;
    await resetAppEngine();
    process.env.VIDSEARCH_HOME = tempDir('vidsearch-home-');
    try {
      assert.deepEqual((await getJson(health, '/api/health')).body.index, { vectors: 0, inStep: false, bytes: 0 });
      assert.deepEqual((await getJson(search, '/api/search?q=red')).body.results, []);
      assert.equal((await getJson(videos, '/api/videos')).body.total, 0);
      const fresh = tempDir('vidsearch-lib-');
      await makeColorVideo(path.join(fresh, 'red.mp4'), [{ color: rgb('red'), seconds: 2 }]);
      const cli = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'index', fresh], { env: { ...cliEnv(), VIDSEARCH_HOME: process.env.VIDSEARCH_HOME }, encoding: 'utf8' });
      assert.equal(cli.status, 0, cli.stderr);
      assert.equal((await getJson(search, '/api/search?q=red')).body.results[0].path, path.join(fresh, 'red.mp4'));
      const h = (await getJson(health, '/api/health')).body;
      assert.equal(h.videos, 1);
      assert.deepEqual([h.index.vectors, h.index.inStep], [1, true]);
    } finally {
      await resetAppEngine();
      process.env.VIDSEARCH_HOME = home;
    }
  });
});

describe('reading while `vidsearch index` writes', needsQueue, () => {
  test('searches never fail, and the new videos show up without a restart', async () => {
    const more = tempDir('vidsearch-lib-');
    const colors = ['magenta', 'orange', 'purple', 'white', 'yellow', 'black'];
    // Long enough that the indexing run lasts a few seconds after the child has started.
    for (const name of colors) await makeColorVideo(path.join(more, `${name}.mp4`), [{ color: rgb(name), seconds: 12 }]);
    const before = (await getJson(videos, '/api/videos')).body.total;
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'index', more], {
      env: cliEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let running = true;
    void exited.then(() => (running = false));

    let searches = 0;
    const indexedSeen = new Set<number>();
    const queries = ['red', 'magenta', 'orange', 'a purple thing', 'white'];
    while (running) {
      const [s, list] = await Promise.all([
        call(search, `/api/search?q=${encodeURIComponent(queries[searches % queries.length])}&k=20`),
        call(videos, '/api/videos?status=indexed&limit=1'),
      ]);
      assert.equal(s.status, 200, await s.clone().text());
      assert.equal(list.status, 200, await list.clone().text());
      await s.json();
      indexedSeen.add((await list.json()).total);
      searches++;
      // Cached queries and SQLite answer in microtasks only; let the child's exit event in.
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await exited, 0, stderr);
    assert.ok(searches >= 5, `only ${searches} searches ran while indexing`);
    // Each file commits in its own transaction: reads ran between several of them.
    assert.ok(indexedSeen.size >= 3, `reads should interleave with the writes, saw indexed counts ${[...indexedSeen]}`);

    const after = await getJson(videos, '/api/videos');
    assert.equal(after.body.total, before + colors.length);
    const top = (await getJson(search, '/api/search?q=magenta&k=1')).body.results[0];
    assert.equal(top.path, path.join(more, 'magenta.mp4'));
    const h = (await getJson(health, '/api/health')).body;
    assert.equal(h.videos, 5 + colors.length);
    assert.equal(h.index.inStep, true);
  });
});
