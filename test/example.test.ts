// Search by example (issue 11, items 12 and 13): "more like this moment" (a stored frame vector
// as the query) and search with a picture (decoded as a frame is, encoded by the image encoder),
// in the engine, over HTTP (GET/POST /api/search, the handlers called as Next.js calls them) and
// on the command line. With the test model an image's vector is its mean colour, so the answers
// are known: like a red moment → the other red moments; a blue picture → blue.mp4.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { forgetProcessConfig, type Config } from '../indexer/services/config';
import { openEngine, type OpenEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { runFfmpeg } from '../indexer/testkit/samples';
import type { SearchResponse, SearchResult } from '../indexer/services/search';
import { TEST_COLORS } from '../indexer/testkit/build';
// A namespace import: each test (not the whole file) fails where a handler is missing.
import * as searchRoute from '../app/api/search/route';
import { makeColorVideo, makeRandomBytes, makeTextFile, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testConfig, resetAppEngine } from './helpers';

const rgb = (name: string) => TEST_COLORS[name] as RGB;
const searchPost = (req: Request, ctx: { params: Promise<object> }) => (searchRoute as { POST?: typeof searchRoute.GET }).POST!(req, ctx);
const ORANGE: RGB = [255, 128, 0];

let cfg: Config;
let uploads: string;
let pics: string;
const ids: Record<string, number> = {};
const files: Record<string, string> = {};

async function get(url: string): Promise<{ status: number; body: any }> {
  const res = await searchRoute.GET(new Request(new URL(url, 'http://localhost')), { params: Promise.resolve({}) });
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return { status: res.status, body: await res.json() };
}

/** A multipart body as a browser sends it, posted to POST /api/search. */
async function postImage(file: { path: string; name: string } | undefined, fields: Array<[string, string]> = [], opts: { field?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const fd = new FormData();
  for (const [k, v] of fields) fd.append(k, v);
  if (file) fd.append(opts.field ?? 'image', new Blob([new Uint8Array(fs.readFileSync(file.path))]), file.name);
  const encoded = new Response(fd);
  const req = new Request('http://localhost/api/search', { method: 'POST', headers: { 'content-type': encoded.headers.get('content-type')!, ...opts.headers }, body: await encoded.arrayBuffer() });
  const res = await searchPost(req, { params: Promise.resolve({}) });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

function cli(args: string[]) {
  const env = { PATH: process.env.PATH, VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, VIDSEARCH_THREADS: '1', VIDSEARCH_CACHE_DIR: cfg.cacheDir };
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'search', ...args], { env: env as Record<string, string | undefined> as NodeJS.ProcessEnv, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  // The app reads the process's configuration, resolved once (services/config.ts processConfig).
  forgetProcessConfig();
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    forgetProcessConfig();
  }
}

const names = (res: SearchResponse | { results: SearchResult[] }) => res.results.map((r) => path.basename(r.path, '.mp4'));
const uploadsLeft = () => fs.readdirSync(uploads);

/** A solid-colour picture made by the bundled ffmpeg. */
async function picture(name: string, color: string, format: 'png' | 'mjpeg' = 'png'): Promise<string> {
  const file = path.join(pics, name);
  await runFfmpeg(['-f', 'lavfi', '-i', `color=c=${color}:s=320x200`, '-frames:v', '1', '-f', 'image2', '-c:v', format, file]);
  return file;
}

before(async () => {
  const lib = tempDir('vidsearch-lib-');
  const videos: Array<[string, Array<{ color: RGB; seconds: number }>]> = [
    ['red', [{ color: rgb('red'), seconds: 2 }]],
    ['green', [{ color: rgb('green'), seconds: 2 }]],
    ['blue', [{ color: rgb('blue'), seconds: 2 }]],
    ['orange', [{ color: ORANGE, seconds: 2 }]],
    // a red moment of 4 s inside a green 10 s segment, then green
    ['grg', [{ color: rgb('green'), seconds: 3 }, { color: rgb('red'), seconds: 4 }, { color: rgb('green'), seconds: 5 }]],
    // four 10 s segments: red, green, red, yellow
    ['long', [{ color: rgb('red'), seconds: 10 }, { color: rgb('green'), seconds: 10 }, { color: rgb('red'), seconds: 10 }, { color: rgb('yellow'), seconds: 10 }]],
  ];
  for (const [name, parts] of videos) {
    files[name] = path.join(lib, `${name}.mp4`);
    await makeColorVideo(files[name], parts);
  }
  files.broken = path.join(lib, 'broken.mp4');
  await makeTextFile(files.broken);
  cfg = await testConfig();
  const engine = await openEngine(cfg, { writer: true });
  try {
    const report = await indexTargets(engine, [lib]);
    assert.equal(report.indexed.length, videos.length);
    for (const v of await engine.store.videos()) ids[path.basename(v.path, '.mp4')] = v.id;
  } finally {
    await engine.close();
  }
  uploads = tempDir('vidsearch-uploads-');
  pics = tempDir('vidsearch-pics-');
  Object.assign(process.env, { VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, VIDSEARCH_THREADS: '1', VIDSEARCH_CACHE_DIR: cfg.cacheDir, VIDSEARCH_UPLOAD_DIR: uploads });
});

after(resetAppEngine);

describe('more like this moment', () => {
  test('like a red moment: the other red moments first, the source segment and its neighbours never, its video last', async () => {
    const { status, body } = await get(`/api/search?like=${ids.long}&t=4.2`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.query, 'like long.mp4 at 0:04');
    assert.deepEqual(body.like, { videoId: ids.long, path: files.long, time: 4, start: 0, end: 10 });
    // Pure red moments score alike (about 1): red.mp4 and the red middle of grg.mp4, either order.
    assert.deepEqual(names(body).slice(0, 2).sort(), ['grg', 'red']);
    const grg = body.results.find((r: SearchResult) => r.videoId === ids.grg);
    assert.ok(grg.bestTime >= 3 && grg.bestTime < 7, `grg's best moment is its red one: ${grg.bestTime}`);
    assert.equal(names(body)[2], 'orange', 'the nearest colour after the reds');
    // long.mp4's own red segment 20-30 s is listed, last; its segments 0-10 and 10-20 are not.
    assert.equal(names(body).at(-1), 'long');
    const long = body.results.at(-1);
    assert.deepEqual(long.moments.map((m: { start: number }) => m.start).sort((a: number, b: number) => a - b), [20, 30]);
    assert.equal(long.start, 20);
    for (const key of ['videoId', 'path', 'duration', 'score', 'start', 'end', 'bestTime', 'moments', 'labels']) assert.ok(key in body.results[0], key);
  });

  test('a short video: the only segment is the source, so the video is not listed at all', async () => {
    const { body } = await get(`/api/search?like=${ids.red}&t=1&k=3`);
    assert.ok(!names(body).includes('red'), String(names(body)));
    assert.equal(body.results.length, 3);
    assert.deepEqual(names(body).slice(0, 2).sort(), ['grg', 'long']);
  });

  test('re-ranking applies: a 4 s red moment in a green segment beats a video orange throughout', async () => {
    const engine = await getEngine();
    const reranked = await engine.searcher.searchLike(ids.red, 0, { k: 10 });
    assert.ok(names(reranked).indexOf('grg') < names(reranked).indexOf('orange'), String(names(reranked)));
    // Mean pooling alone dilutes the red moment by the green around it (cos 0.33 against 0.82).
    const mean = await engine.searcher.searchLike(ids.red, 0, { k: 10, rerank: false });
    assert.ok(names(mean).indexOf('grg') > names(mean).indexOf('orange'), String(names(mean)));
  });

  test('the CLI: --like <videoId>@<seconds> prints the API\'s document', () => {
    const r = cli(['--like', `${ids.long}@4.2`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return get(`/api/search?like=${ids.long}&t=4.2`).then(({ body }) => {
      const { tookMs: _a, ...fromCli } = JSON.parse(r.stdout);
      const { tookMs: _b, ...fromApi } = body;
      assert.deepEqual(fromApi, fromCli);
    });
  });

  // Each refusal says what is wrong with like/t, not just that q is missing.
  for (const [what, query, status, says] of [
    ['q and like', () => `q=red&like=${ids.red}&t=0`, 400, /not both/],
    ['neither q nor like', () => 'k=3', 400, /like=<videoId>&t=<seconds>/],
    ['like without t', () => `like=${ids.red}`, 400, /t is required with like/],
    ['t without like', () => 'q=red&t=1', 400, /t goes with like/],
    ['t past the end', () => `like=${ids.red}&t=2.5`, 400, /past the end of red\.mp4/],
    ['t negative', () => `like=${ids.red}&t=-1`, 400, /t must be a number of seconds/],
    ['like not an id', () => 'like=abc&t=1', 400, /like \(a video id\) must be an integer/],
    ['an unknown video', () => 'like=999999&t=0', 404, /no video with id 999999/],
    ['a video that failed to index', () => `like=${ids.broken}&t=0`, 404, /not indexed \(failed/],
  ] as const) {
    test(`${status} on ${what}`, async () => {
      const { status: got, body } = await get(`/api/search?${query()}`);
      assert.equal(got, status, JSON.stringify(body));
      assert.ok(typeof body.error === 'string' && body.error.length < 200, body.error);
      assert.match(body.error, says);
    });
  }

  test('the CLI refuses the same: exit 2 with a message', () => {
    for (const [args, says] of [
      [['red', '--like', `${ids.red}@0`], /not both/],
      [['--like', String(ids.red)], /--like takes <videoId>@<seconds>/],
      [['--like', `${ids.red}@99`], /past the end/],
      [['--like', '999999@0'], /no video with id 999999/],
      [['--like', `${ids.red}@0`, '--image', 'x.png'], /not two of them/],
    ] as const) {
      const r = cli([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^vidsearch: /, args.join(' '));
      assert.match(r.stderr, says, args.join(' '));
    }
  });
});

describe('search with an image', () => {
  test('a solid blue PNG finds blue.mp4 first; a JPEG of red finds the red moments', async () => {
    const blue = await picture('blue.png', '0x0000FF');
    const { status, body } = await postImage({ path: blue, name: 'blue.png' }, [['k', '3']]);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.query, 'image blue.png');
    assert.equal(body.results.length, 3);
    assert.equal(names(body)[0], 'blue');
    assert.ok(body.results[0].score > 0.99, String(body.results[0].score));
    assert.deepEqual(uploadsLeft(), [], 'the upload is removed');

    const red = await picture('red.jpg', '0xFF0000', 'mjpeg');
    const jpeg = await postImage({ path: red, name: 'red.jpg' });
    assert.equal(jpeg.status, 200, JSON.stringify(jpeg.body));
    assert.deepEqual(names(jpeg.body).slice(0, 3).sort(), ['grg', 'long', 'red']);
  });

  test('the CLI: --image <file> prints the API\'s document', async () => {
    const blue = await picture('blue-cli.png', '0x0000FF');
    const r = cli(['--image', blue, '--json', '--k', '3']);
    assert.equal(r.code, 0, r.stderr);
    const fromCli = JSON.parse(r.stdout);
    const { body } = await postImage({ path: blue, name: 'blue-cli.png' }, [['k', '3']]);
    assert.deepEqual({ ...body, tookMs: 0 }, { ...fromCli, tookMs: 0 });
    const text = cli(['--image', files.broken]);
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stderr, /not an image/);
  });

  test('415 for what is not a picture (a text file, a video, random bytes), 415 for another content type', async () => {
    for (const [file, name] of [
      [files.broken, 'notes.png'],
      [files.blue, 'clip.png'],
    ]) {
      const { status, body } = await postImage({ path: file, name });
      assert.equal(status, 415, `${name}: ${JSON.stringify(body)}`);
      assert.match(body.error, new RegExp(`^${name.replace('.', '\\.')}: not an image`));
      assert.ok(!body.error.includes(uploads), 'the temporary path is not shown');
    }
    const noise = path.join(pics, 'noise.bin');
    await makeRandomBytes(noise, 4096);
    assert.equal((await postImage({ path: noise, name: 'noise.png' })).status, 415);
    const json = await searchPost(new Request('http://localhost/api/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), { params: Promise.resolve({}) });
    assert.equal(json.status, 415);
    assert.deepEqual(uploadsLeft(), []);
  });

  test('413 beyond VIDSEARCH_UPLOAD_MAX_MB, counted or declared, before the body is read; the upload is removed', async () => {
    const big = path.join(pics, 'big.png');
    await makeRandomBytes(big, 64 * 1024);
    const counted = await withEnv({ VIDSEARCH_UPLOAD_MAX_MB: '0.01' }, () => postImage({ path: big, name: 'big.png' }));
    assert.equal(counted.status, 413, JSON.stringify(counted.body));
    assert.equal(counted.headers.get('connection'), 'close');
    const declared = await searchPost(
      new Request('http://localhost/api/search', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(64 * 1024 * 1024) }, body: new Uint8Array(8) }),
      { params: Promise.resolve({}) },
    );
    assert.equal(declared.status, 413, 'a picture over 32 MB is refused by its Content-Length');
    assert.deepEqual(uploadsLeft(), []);
  });

  test('413 for a small file that declares a huge picture (a decompression bomb), refused before decoding', async () => {
    // A PNG whose header declares 10000 × 10000 pixels (100 megapixels), with one row of them: the
    // header is what must stop it, before any decoder allocates the canvas.
    const chunk = (type: string, data: Buffer) => {
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(zlib.crc32(body));
      return Buffer.concat([len, body, crc]);
    };
    const side = 10_000;
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(side, 0);
    ihdr.writeUInt32BE(side, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    const pixels = zlib.deflateSync(Buffer.alloc(1 + 3 * side));
    const bomb = path.join(pics, 'bomb.png');
    fs.writeFileSync(bomb, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0))]));
    const { status, body } = await postImage({ path: bomb, name: 'bomb.png' });
    assert.equal(status, 413, JSON.stringify(body));
    assert.match(body.error, /^bomb\.png: the image is too large: 10000 × 10000 pixels/);
    assert.deepEqual(uploadsLeft(), []);
  });

  test('400 without a picture, with a file in another field, with a bad k', async () => {
    const blue = await picture('blue2.png', '0x0000FF');
    assert.equal((await postImage(undefined, [['k', '3']])).status, 400);
    assert.equal((await postImage({ path: blue, name: 'b.png' }, [], { field: 'file' })).status, 400);
    assert.equal((await postImage({ path: blue, name: 'b.png' }, [['k', '0']])).status, 400);
    assert.equal((await postImage({ path: blue, name: 'b.png' }, [['q', 'red']])).status, 400);
    assert.deepEqual(uploadsLeft(), []);
  });

  test('with VIDSEARCH_API_TOKEN set, an upload needs the token (401)', async () => {
    const blue = await picture('blue3.png', '0x0000FF');
    const res = await withEnv({ VIDSEARCH_API_TOKEN: 'secret-token-16chars' }, () => postImage({ path: blue, name: 'b.png' }));
    assert.equal(res.status, 401);
    const ok = await withEnv({ VIDSEARCH_API_TOKEN: 'secret-token-16chars' }, () => postImage({ path: blue, name: 'b.png' }, [], { headers: { authorization: 'Bearer secret-token-16chars' } }));
    assert.equal(ok.status, 200);
  });
});

async function getEngine(): Promise<OpenEngine> {
  return (await import('../app/lib/engine')).getEngine();
}
