// Action tags over HTTP: POST /api/actions (indexed videos by id, uploaded clips), the label-set
// listing, and the action filter of GET /api/search. The route handlers are called as Next.js
// calls them, on a library of generated colour videos indexed with the test model, where colour
// words are the "actions" and the answers are known in advance.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { customLabelSet, labelSet } from '../indexer/services/actions';
import { forgetProcessConfig, resolveConfig, type Config } from '../indexer/services/config';
import { openEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { retagAll, tagVideo } from '../indexer/services/tagging';
import { TEST_COLORS } from '../indexer/testkit/build';
import { POST as tag } from '../app/api/actions/route';
import { GET as labelSets } from '../app/api/actions/labels/route';
import { GET as labelSetByName } from '../app/api/actions/labels/[name]/route';
import { GET as search } from '../app/api/search/route';
import { uploadSlots } from '../app/lib/actions';
import { runFfmpeg } from '../indexer/testkit/samples';
import { getEngine } from '../app/lib/engine';
import { makeColorVideo, makeTextFile, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testConfig, resetAppEngine } from './helpers';

const rgb = (name: string) => TEST_COLORS[name] as RGB;
const COLOURS = ['red', 'green', 'blue', 'yellow', 'magenta'];

let cfg: Config;
let uploads: string;
const ids: Record<string, number> = {};
const files: Record<string, string> = {};


function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return tag(new Request('http://localhost/api/actions', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }), { params: Promise.resolve({}) });
}

async function postJson(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await post(body, headers);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** A multipart body as a browser or curl would send it: its bytes and content type. */
async function multipart(fields: Array<[string, string]>, file?: { path: string; name: string } | { bytes: Uint8Array; name: string }): Promise<{ bytes: Uint8Array; type: string }> {
  const fd = new FormData();
  for (const [k, v] of fields) fd.append(k, v);
  if (file) fd.append('file', new Blob([new Uint8Array('path' in file ? fs.readFileSync(file.path) : file.bytes)]), file.name);
  const res = new Response(fd);
  return { bytes: new Uint8Array(await res.arrayBuffer()), type: res.headers.get('content-type')! };
}

/** Sends a multipart body; as a stream without Content-Length unless `declared` says otherwise. */
function upload(body: { bytes: Uint8Array; type: string }, opts: { headers?: Record<string, string>; declared?: number; stream?: ReadableStream<Uint8Array> } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': body.type, ...opts.headers };
  if (opts.declared !== undefined) headers['content-length'] = String(opts.declared);
  const stream =
    opts.stream ??
    new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < body.bytes.length; i += 16 * 1024) c.enqueue(body.bytes.subarray(i, i + 16 * 1024));
        c.close();
      },
    });
  const req = new Request('http://localhost/api/actions', { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit);
  return tag(req, { params: Promise.resolve({}) });
}

const uploadsLeft = () => fs.readdirSync(uploads);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A body that trickles: `bytes` in 16 KiB chunks, one per pull, and after the first chunk none
 * until `gate` opens (when given). `pulled` counts the pulls: the stream makes the first by itself.
 */
function trickle(bytes: Uint8Array, gate?: Promise<void>): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(c) {
      pulled++;
      if (at > 0 && gate) await gate;
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.subarray(at, at + 16 * 1024));
      at += 16 * 1024;
    },
  });
  return { stream, pulled: () => pulled };
}

/** `p`, or a failure after `ms`: on code that waits where it should refuse, the test fails instead of hanging. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Polls until `check` holds (or `ms` pass); returns whether it did. */
async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) if (check()) return true;
  return check();
}

/** The files inside the temporary upload directories, as [directory, file] names. */
const uploadFiles = () => uploadsLeft().flatMap((d) => fs.readdirSync(path.join(uploads, d)).map((f) => [d, f] as const));

/** A request body that never ends, counting how many 64 KiB chunks the server pulled from it. */
function endlessBody(): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      pulled++;
      c.enqueue(new Uint8Array(64 * 1024));
    },
  });
  return { stream, pulled: () => pulled };
}

async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
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

before(async () => {
  const lib = tempDir('vidsearch-lib-');
  for (const name of ['red', 'green', 'blue']) {
    files[name] = path.join(lib, `${name}.mp4`);
    await makeColorVideo(files[name], [{ color: rgb(name), seconds: 2 }]);
  }
  files.brg = path.join(lib, 'brg.mp4');
  await makeColorVideo(files.brg, [{ color: rgb('blue'), seconds: 4 }, { color: rgb('red'), seconds: 4 }, { color: rgb('green'), seconds: 4 }]);
  files.broken = path.join(lib, 'broken.mp4');
  await makeTextFile(files.broken);
  cfg = await testConfig({ segmentSeconds: 4 });
  const engine = await openEngine(cfg, { writer: true });
  try {
    const report = await indexTargets(engine, [lib]);
    assert.equal(report.indexed.length, 4);
    for (const v of await engine.store.videos()) ids[path.basename(v.path, '.mp4')] = v.id;
  } finally {
    await engine.close();
  }
  uploads = tempDir('vidsearch-uploads-');
  Object.assign(process.env, {
    VIDSEARCH_HOME: cfg.home,
    VIDSEARCH_MODEL: cfg.model,
    VIDSEARCH_THREADS: '1',
    VIDSEARCH_CACHE_DIR: cfg.cacheDir,
    VIDSEARCH_SEGMENT_SECONDS: '4',
    VIDSEARCH_UPLOAD_DIR: uploads,
    // Small enough that the label-cache test below goes over it.
    VIDSEARCH_LABEL_CACHE_MB: '1',
  });
});

after(resetAppEngine);

describe('POST /api/actions with a video id', () => {
  test('custom labels: the red video is "red"; blue→red→green per segment in order; the CLI\'s JSON', async () => {
    const red = await postJson({ videoId: ids.red, labels: COLOURS });
    assert.equal(red.status, 200, JSON.stringify(red.body));
    assert.deepEqual(Object.keys(red.body).sort(), ['labelSet', 'labels', 'lowConfidence', 'path', 'segments', 'videoId']);
    assert.equal(red.body.labels[0].label, 'red');
    assert.equal(red.body.lowConfidence, false);
    assert.equal(red.body.labelSet, customLabelSet(COLOURS).key);
    assert.equal(red.body.labels.length, 5);

    const { status, body } = await postJson({ videoId: ids.brg, labels: ['red', 'green', 'blue'], k: 2 });
    assert.equal(status, 200);
    assert.deepEqual(body.segments.map((s: { labels: Array<{ label: string }> }) => s.labels[0].label), ['blue', 'red', 'green']);
    assert.deepEqual(body.segments.map((s: { start: number; end: number }) => [s.start, s.end]), [[0, 4], [4, 8], [8, 12]]);
    assert.equal(body.labels.length, 2);
    // The same document as `vidsearch tag <id> --labels ... --json`.
    const cli = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'tag', String(ids.brg), '--labels', 'red,green,blue', '--k', '2', '--json'], {
      env: { PATH: process.env.PATH, VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, VIDSEARCH_CACHE_DIR: cfg.cacheDir, VIDSEARCH_THREADS: '1' } as Record<string, string | undefined> as NodeJS.ProcessEnv,
      encoding: 'utf8',
    });
    assert.equal(cli.status, 0, cli.stderr);
    assert.deepEqual(body, JSON.parse(cli.stdout));
  });

  test('the library label set (kinetics400) read from the stored tags equals scoring it; k above 5 and other sets are scored', async () => {
    const engine = await getEngine();
    const stored = await postJson({ videoId: ids.brg });
    assert.equal(stored.status, 200);
    assert.equal(stored.body.labelSet, 'kinetics400');
    assert.deepEqual(stored.body, JSON.parse(JSON.stringify(await tagVideo(engine, ids.brg, labelSet('kinetics400'), 5))));
    assert.equal(stored.body.segments.length, 3);

    const more = await postJson({ videoId: ids.brg, k: 12 });
    assert.equal(more.body.labels.length, 12);
    assert.deepEqual(more.body.labels.slice(0, 5), stored.body.labels);
    const ucf = await postJson({ videoId: ids.red, labelSet: 'ucf101', k: 3 });
    assert.deepEqual([ucf.body.labelSet, ucf.body.labels.length], ['ucf101', 3]);
    const templates = await postJson({ videoId: ids.red, labelSet: 'kinetics400', templates: 'actionclip' });
    assert.equal(templates.body.labelSet, 'kinetics400+actionclip');
  });

  test('404 for an unknown id or a video that is not indexed', async () => {
    const missing = await postJson({ videoId: 999999 });
    assert.equal(missing.status, 404);
    assert.match(missing.body.error, /no video with id 999999/);
    const broken = await postJson({ videoId: ids.broken, labels: COLOURS });
    assert.equal(broken.status, 404);
    assert.match(broken.body.error, /not indexed \(failed/);
  });

  const long = 'x'.repeat(201);
  for (const [what, body] of [
    ['no videoId', { labels: COLOURS }],
    ['videoId 0', { videoId: 0 }],
    ['videoId -1', { videoId: -1 }],
    ['videoId 1.5', { videoId: 1.5 }],
    ['videoId as a string', { videoId: '1' }],
    ['one label', { videoId: 1, labels: ['red'] }],
    ['an empty label', { videoId: 1, labels: ['red', ' '] }],
    ['a label of 201 characters', { videoId: 1, labels: ['red', long] }],
    ['1001 labels', { videoId: 1, labels: Array.from({ length: 1001 }, (_, i) => `l${i}`) }],
    ['labels not an array', { videoId: 1, labels: 'red,green' }],
    ['a number as a label', { videoId: 1, labels: ['red', 3] }],
    ['an unknown label set', { videoId: 1, labelSet: 'imagenet' }],
    ['labels and labelSet', { videoId: 1, labels: COLOURS, labelSet: 'ucf101' }],
    ['k 0', { videoId: 1, k: 0 }],
    ['k 51', { videoId: 1, k: 51 }],
    ['k 2.5', { videoId: 1, k: 2.5 }],
    ['an unknown field', { videoId: 1, label: 'red' }],
    ['an array body', [1]],
    ['a null body', null],
  ] as const) {
    test(`400 on ${what}`, async () => {
      const { status, body: res } = await postJson(body);
      assert.equal(status, 400, JSON.stringify(res));
      assert.equal(typeof res.error, 'string');
      assert.ok(res.error.length > 0 && res.error.length < 300, res.error);
    });
  }

  test('400 on a body that is not JSON; 415 on another content type; 413 on a huge JSON body', async () => {
    const bad = await tag(new Request('http://localhost/api/actions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"videoId": 1,' }), { params: Promise.resolve({}) });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /not valid JSON/);
    const text = await tag(new Request('http://localhost/api/actions', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'videoId=1' }), { params: Promise.resolve({}) });
    assert.equal(text.status, 415);
    const huge = await postJson({ videoId: 1, labels: Array.from({ length: 1000 }, () => 'y'.repeat(3000)) });
    assert.equal(huge.status, 413);
  });

  // How fast is a benchmark figure (bench/run.ts, part "actions"), not an assertion: on a busy
  // machine it says nothing about the code. The test checks that a cached label set answers.
  test('answers with a cached label set, stored or custom (latency logged)', async (t) => {
    await postJson({ videoId: ids.brg });
    await postJson({ videoId: ids.brg, labels: COLOURS });
    const times: Record<string, number[]> = { stored: [], custom: [] };
    for (let i = 0; i < 30; i++) {
      let t = performance.now();
      assert.equal((await post({ videoId: ids.brg })).status, 200);
      times.stored.push(performance.now() - t);
      t = performance.now();
      assert.equal((await post({ videoId: ids.brg, labels: COLOURS })).status, 200);
      times.custom.push(performance.now() - t);
    }
    for (const [what, list] of Object.entries(times)) {
      const p50 = list.sort((a, b) => a - b)[15];
      t.diagnostic(`POST /api/actions (${what}) p50 ${p50.toFixed(1)} ms, max ${list.at(-1)!.toFixed(1)} ms`);
    }
  });
});

test('custom label lists from callers do not pile up in memory: the 8 most recent stay', async () => {
  const engine = await getEngine();
  for (let i = 0; i < 12; i++) assert.equal((await post({ videoId: ids.red, labels: ['red', 'green', `colour ${i}`] })).status, 200);
  const loaded = (engine.tagger as unknown as { loaded: Map<string, unknown> }).loaded;
  assert.equal([...loaded.keys()].filter((k) => k.startsWith('custom:')).length, 8);
  assert.ok(loaded.has('kinetics400'), 'the shipped sets stay');
});

describe('the API token', () => {
  test('with VIDSEARCH_API_TOKEN set: 401 without it or with a wrong one (body unread), 200 with it', async () => {
    await withEnv({ VIDSEARCH_API_TOKEN: 's3cret-token-16chars' }, async () => {
      const none = await postJson({ videoId: ids.red });
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal((await postJson({ videoId: ids.red }, { authorization: 'Bearer wrong' })).status, 401);
      assert.equal((await postJson({ videoId: ids.red }, { authorization: 'Bearer s3cret-token-16chars-and-more' })).status, 401);
      assert.equal((await postJson({ videoId: ids.red }, { authorization: 's3cret-token-16chars' })).status, 401);
      assert.equal((await postJson({ videoId: ids.red }, { authorization: 'Bearer s3cret-token-16chars' })).status, 200);
      assert.equal((await postJson({ videoId: ids.red }, { authorization: 'bearer  s3cret-token-16chars' })).status, 200);
      // An upload without the token is refused before any of it is read.
      const { stream, pulled } = endlessBody();
      const res = await upload({ bytes: new Uint8Array(), type: 'multipart/form-data; boundary=x' }, { stream });
      assert.equal(res.status, 401);
      assert.ok(pulled() <= 1, `pulled ${pulled()} chunks`);
      assert.deepEqual(uploadsLeft(), []);
    });
    // Unset again: no token needed.
    assert.equal((await postJson({ videoId: ids.red })).status, 200);
  });
});

describe('POST /api/actions with an uploaded clip', () => {
  let clip: string;
  let notVideo: string;

  before(async () => {
    const dir = tempDir('vidsearch-clips-');
    clip = path.join(dir, 'clip.mp4');
    await makeColorVideo(clip, [{ color: rgb('blue'), seconds: 4 }, { color: rgb('red'), seconds: 4 }, { color: rgb('green'), seconds: 4 }]);
    notVideo = path.join(dir, 'notes.mp4');
    await makeTextFile(notVideo);
  });

  test('a valid clip: labels per segment, named by its file name, never indexed, temporary file gone', async () => {
    const engine = await getEngine();
    const before = (await engine.store.stats()).videos.total;
    const body = await multipart([['labels', 'red,green,blue'], ['k', '2']], { path: clip, name: 'my clip.mp4' });
    const res = await upload(body, { declared: body.bytes.length });
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.deepEqual(Object.keys(json).sort(), ['labelSet', 'labels', 'lowConfidence', 'path', 'segments']);
    assert.equal(json.path, 'my clip.mp4');
    assert.deepEqual(json.segments.map((s: { labels: Array<{ label: string }> }) => s.labels[0].label), ['blue', 'red', 'green']);
    assert.equal(json.labels.length, 2);
    assert.deepEqual(uploadsLeft(), []);
    assert.equal((await engine.store.stats()).videos.total, before, 'nothing was added to the index');
    assert.ok(!(await engine.store.videoByPath(clip)));
  });

  test('labels as a JSON array or repeated fields; the library label set by default', async () => {
    const asJson = await upload(await multipart([['labels', JSON.stringify(COLOURS)]], { path: clip, name: 'a.mp4' }));
    assert.equal(asJson.status, 200);
    assert.equal((await asJson.json()).labelSet, customLabelSet(COLOURS).key);
    const repeated = await upload(await multipart([['labels', 'red'], ['labels', 'green'], ['labels', 'blue']], { path: clip, name: 'a.mp4' }));
    assert.deepEqual(
      (await repeated.json()).segments.map((s: { labels: Array<{ label: string }> }) => s.labels[0].label),
      ['blue', 'red', 'green'],
    );
    const plain = await upload(await multipart([], { path: clip, name: 'a.mp4' }));
    assert.equal((await plain.json()).labelSet, 'kinetics400');
    assert.deepEqual(uploadsLeft(), []);
  });

  test('the upload streams to a private temporary directory while it arrives', async () => {
    const body = await multipart([['labels', 'red,green,blue']], { path: clip, name: 'clip.mp4' });
    const half = Math.floor(body.bytes.length / 2);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const stream = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(body.bytes.subarray(0, half));
        await released;
        c.enqueue(body.bytes.subarray(half));
        c.close();
      },
    });
    const pending = upload(body, { stream });
    // The first half is on disk before the second is sent.
    let seen: { dirMode: number; fileMode: number; size: number } | undefined;
    for (let i = 0; i < 200 && !seen; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const [dir] = uploadsLeft();
      const file = dir && fs.readdirSync(path.join(uploads, dir))[0];
      if (!file) continue;
      const st = fs.statSync(path.join(uploads, dir, file));
      if (st.size > 0) seen = { dirMode: fs.statSync(path.join(uploads, dir)).mode & 0o777, fileMode: st.mode & 0o777, size: st.size };
    }
    release();
    assert.ok(seen, 'no partial upload appeared on disk');
    assert.deepEqual([seen.dirMode, seen.fileMode], [0o700, 0o600]);
    assert.ok(seen.size < half, `${seen.size} bytes written of a first half of ${half}`);
    assert.equal((await pending).status, 200);
    assert.deepEqual(uploadsLeft(), []);
  });

  test('a file that is not a video → 415, and it is deleted', async () => {
    const res = await upload(await multipart([['labels', 'red,green']], { path: notVideo, name: 'notes.mp4' }));
    const json = await res.json();
    assert.equal(res.status, 415, JSON.stringify(json));
    assert.match(json.error, /^notes\.mp4: not a video/);
    assert.ok(!json.error.includes(uploads), 'the temporary path is not shown');
    const empty = await upload(await multipart([], { bytes: new Uint8Array(), name: 'empty.mp4' }));
    assert.equal(empty.status, 415);
    assert.deepEqual(uploadsLeft(), []);
  });

  test('too large → 413: by Content-Length before reading, and by counting when it is not declared', async () => {
    await withEnv({ VIDSEARCH_UPLOAD_MAX_MB: '0.001' }, async () => {
      // Declared: refused before a byte is read.
      const { stream, pulled } = endlessBody();
      const declared = await upload({ bytes: new Uint8Array(), type: 'multipart/form-data; boundary=x' }, { stream, declared: 50 * 1024 * 1024 });
      const declaredJson = await declared.json();
      assert.equal(declared.status, 413);
      assert.equal(declared.headers.get('connection'), 'close');
      assert.match(declaredJson.error, /too large: at most 1048 bytes/);
      assert.ok(pulled() <= 1, `pulled ${pulled()} chunks`);
      // Streamed without a length: stopped at the limit, the partial file deleted.
      const body = await multipart([['labels', 'red,green']], { path: clip, name: 'clip.mp4' });
      assert.ok(body.bytes.length > 2048, `${body.bytes.length} bytes`);
      const counted = await upload(body);
      assert.equal(counted.status, 413);
      assert.deepEqual(uploadsLeft(), []);
    });
    // A bad limit stops the server at start (test/config.test.ts), not each upload.
    assert.throws(() => resolveConfig({}, { ...process.env, VIDSEARCH_UPLOAD_MAX_MB: 'lots' }), /VIDSEARCH_UPLOAD_MAX_MB/);
  });

  test('a clip longer than VIDSEARCH_UPLOAD_MAX_SECONDS → 413 before it is encoded, and it is deleted', async () => {
    const res = await withEnv({ VIDSEARCH_UPLOAD_MAX_SECONDS: '10' }, async () => upload(await multipart([['labels', 'red,green']], { path: clip, name: 'long.mp4' })));
    assert.equal(res.status, 413);
    assert.match((await res.json()).error, /^long\.mp4 is 12 s long; clips of at most 10 s .*VIDSEARCH_UPLOAD_MAX_SECONDS.*vidsearch index/);
    assert.deepEqual(uploadsLeft(), []);
    assert.throws(() => resolveConfig({}, { ...process.env, VIDSEARCH_UPLOAD_MAX_SECONDS: '-5' }), /VIDSEARCH_UPLOAD_MAX_SECONDS/);
  });

  test('one clip is encoded at a time with a short line behind it; beyond that 503 before the body is read', async () => {
    // Occupy the encoder and every place in its line, as concurrent uploads would.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holders = Array.from({ length: uploadSlots.max + uploadSlots.maxWaiting }, () => uploadSlots.run(() => held));
    try {
      assert.ok(uploadSlots.full);
      const { stream, pulled } = endlessBody();
      const res = await upload({ bytes: new Uint8Array(), type: 'multipart/form-data; boundary=x' }, { stream, declared: 5 * 1024 * 1024 });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '10');
      assert.equal(res.headers.get('connection'), 'close');
      assert.match((await res.json()).error, /busy encoding other clips \(1 at a time, 4 waiting\): try again shortly/);
      assert.ok(pulled() <= 1, `pulled ${pulled()} chunks`);
      // A request for an indexed video needs no encoder and is answered meanwhile.
      assert.equal((await post({ videoId: ids.red, labels: ['red', 'green'] })).status, 200);
    } finally {
      release();
      await Promise.all(holders);
    }
    // Two uploads at once: both answered, the second after the first (the line, not a refusal).
    const body = await multipart([['labels', 'red,green,blue']], { path: clip, name: 'clip.mp4' });
    const both = await Promise.all([upload(body), upload(body)]);
    assert.deepEqual(both.map((r) => r.status), [200, 200]);
    assert.deepEqual(uploadsLeft(), []);
  });

  test('an upload cut off midway: an error, and nothing left behind', async () => {
    const body = await multipart([['labels', 'red,green']], { path: clip, name: 'clip.mp4' });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(body.bytes.subarray(0, body.bytes.length >> 1));
        setTimeout(() => c.error(new Error('connection reset')), 20);
      },
    });
    const res = await upload(body, { stream });
    assert.ok(res.status >= 400, `status ${res.status}`);
    const truncated = await upload({ bytes: body.bytes.subarray(0, body.bytes.length - 100), type: body.type });
    assert.equal(truncated.status, 400);
    assert.deepEqual(uploadsLeft(), []);
  });

  test('exactly one of videoId and file; bad fields → 400', async () => {
    const both = await upload(await multipart([['videoId', String(ids.red)]], { path: clip, name: 'clip.mp4' }));
    assert.equal(both.status, 400);
    assert.equal((await upload(await multipart([['labels', 'red,green']]))).status, 400);
    const byId = await upload(await multipart([['videoId', String(ids.red)], ['labels', 'red,green']]));
    assert.equal(byId.status, 200);
    assert.equal((await byId.json()).labels[0].label, 'red');
    for (const fields of [[['k', '0']], [['k', 'x']], [['labelSet', 'nope']], [['labels', 'red']], [['labels', '["red"']], [['other', '1']], [['k', '1'], ['k', '2']]] as Array<Array<[string, string]>>) {
      const res = await upload(await multipart(fields, { path: clip, name: 'clip.mp4' }));
      assert.equal(res.status, 400, JSON.stringify(fields));
    }
    const wrongField = new FormData();
    wrongField.append('video', new Blob([fs.readFileSync(clip)]), 'clip.mp4');
    const r = new Response(wrongField);
    assert.equal((await upload({ bytes: new Uint8Array(await r.arrayBuffer()), type: r.headers.get('content-type')! })).status, 400);
    assert.equal((await upload({ bytes: new TextEncoder().encode('garbage'), type: 'multipart/form-data' })).status, 400);
    assert.deepEqual(uploadsLeft(), []);
  });
});

describe('uploads are admitted before their bodies are read', () => {
  let short: string;

  before(async () => {
    short = path.join(tempDir('vidsearch-clips-'), 'short.mp4');
    await makeColorVideo(short, [{ color: rgb('red'), seconds: 2 }]);
  });

  test('20 slow uploads at once: 5 taken in (1 encoding, 4 in line), 15 get 503 unread; never more than 5 temporary directories', async () => {
    const body = await multipart([['labels', 'red,green,blue']], { path: short, name: 'clip.mp4' });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const bodies = Array.from({ length: 20 }, () => trickle(body.bytes, gate));
    let peak = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        peak = Math.max(peak, uploadsLeft().length);
        await sleep(2);
      }
    })();
    const answers: Array<Response | undefined> = [];
    const pending = bodies.map((b, i) => upload(body, { stream: b.stream }).then((r) => (answers[i] = r)));
    try {
      // While the admitted bodies are held, the rest are answered.
      await until(() => answers.filter(Boolean).length >= 15);
      const early = answers.map((r, i) => [r, i] as const).filter(([r]) => r);
      assert.equal(early.length, 15, `${early.length} answered while 5 bodies were held`);
      for (const [r, i] of early) {
        assert.equal(r!.status, 503);
        assert.equal(r!.headers.get('retry-after'), '10');
        assert.match((await r!.json()).error, /busy encoding other clips/);
        assert.ok(bodies[i].pulled() <= 1, `upload ${i}: pulled ${bodies[i].pulled()} chunks`);
      }
    } finally {
      open();
      await Promise.all(pending);
      watching = false;
      await watcher;
    }
    assert.ok(peak <= 5, `${peak} temporary directories at once`);
    const statuses = answers.map((r) => r!.status);
    assert.deepEqual([statuses.filter((s) => s === 200).length, statuses.filter((s) => s === 503).length], [5, 15]);
    assert.deepEqual(uploadsLeft(), []);
  });

  test('the temporary-space budget: a declared length is claimed before reading, an undeclared body as it is written', async () => {
    const body = await multipart([['labels', 'red,green']], { path: short, name: 'a.mp4' });
    const size = body.bytes.length;
    const fileSize = fs.statSync(short).size;
    await withEnv({ VIDSEARCH_UPLOAD_BUDGET_MB: String((size * 1.5) / 2 ** 20) }, async () => {
      // One upload larger than the whole budget: 413, unread.
      const alone = trickle(new Uint8Array(size * 2));
      const big = await within(upload(body, { stream: alone.stream, declared: size * 2 }), 5000, 'an upload over the budget');
      assert.equal(big.status, 413);
      assert.match((await big.json()).error, /VIDSEARCH_UPLOAD_BUDGET_MB/);
      assert.ok(alone.pulled() <= 1, `pulled ${alone.pulled()} chunks`);

      // An upload waiting in line holds its share: with the encoder busy, the next one does not fit.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const holder = uploadSlots.run(() => held);
      const first = upload(body, { declared: size });
      const others: Promise<Response>[] = [];
      try {
        assert.ok(await until(() => uploadFiles().some(([d, f]) => fs.statSync(path.join(uploads, d, f)).size === fileSize)), 'the first upload was written');
        const second = trickle(body.bytes);
        others.push(upload(body, { stream: second.stream, declared: size }));
        const refused = await within(others[0], 5000, 'an upload beyond the budget');
        assert.equal(refused.status, 503);
        assert.equal(refused.headers.get('retry-after'), '10');
        assert.match((await refused.json()).error, /temporary space for uploads .*VIDSEARCH_UPLOAD_BUDGET_MB/);
        assert.ok(second.pulled() <= 1, `pulled ${second.pulled()} chunks`);
        // Without Content-Length the bytes are counted as they come: stopped where they no longer fit.
        others.push(upload(body));
        const counted = await within(others[1], 5000, 'an undeclared upload beyond the budget');
        assert.equal(counted.status, 503);
        assert.equal(uploadsLeft().length, 1, "the refused upload's directory is gone");
      } finally {
        release();
        await holder;
        await Promise.allSettled(others);
      }
      assert.equal((await first).status, 200);
    });
    assert.deepEqual(uploadsLeft(), []);
    assert.throws(() => resolveConfig({}, { ...process.env, VIDSEARCH_UPLOAD_BUDGET_MB: '-1' }), /VIDSEARCH_UPLOAD_BUDGET_MB/);
  });

  test('the file is written under a name of vidsearch\'s own; the answer names the client\'s', async () => {
    const body = await multipart([['labels', 'red,green']], { path: short, name: 'playlist.m3u8' });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const holder = uploadSlots.run(() => held);
    const pending = upload(body);
    let seen: string[] = [];
    try {
      // Held in line: fully written, not yet probed.
      await until(() => uploadFiles().some(([d, f]) => fs.statSync(path.join(uploads, d, f)).size === fs.statSync(short).size));
      seen = uploadFiles().map(([, f]) => f);
    } finally {
      release();
      await holder;
    }
    assert.deepEqual(seen, ['upload']);
    const res = await pending;
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.equal(json.path, 'playlist.m3u8');
    assert.equal(json.labels[0].label, 'red');
  });

  test('containers are recognised by their content, whatever the name says', async () => {
    const dir = tempDir('vidsearch-clips-');
    for (const [format, codec] of [['matroska', 'copy'], ['mov', 'copy'], ['avi', 'mpeg4'], ['webm', 'libvpx']] as const) {
      const file = path.join(dir, format);
      await runFfmpeg(['-i', short, '-c:v', codec, '-f', format, file]);
      const res = await upload(await multipart([['labels', 'red,green']], { path: file, name: `clip.${format === 'mov' ? 'mp4' : 'txt'}` }));
      const json = await res.json();
      assert.equal(res.status, 200, `${format}: ${JSON.stringify(json)}`);
      assert.equal(json.labels[0].label, 'red', format);
    }
    assert.deepEqual(uploadsLeft(), []);
  });

  test('a file name in any script comes back as sent', async () => {
    const name = 'été 東京 🎬.mp4';
    const res = await upload(await multipart([['labels', 'red,green']], { path: short, name }));
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.equal(json.path, name);
    const bad = await upload(await multipart([['labels', 'red,green']], { bytes: new TextEncoder().encode('not a video'), name: 'заметки.mp4' }));
    assert.equal(bad.status, 415);
    assert.match((await bad.json()).error, /^заметки\.mp4: /);
  });
});

describe('templates and the label-vector cache', () => {
  test('templates apply to a video id with no other choice: the library\'s labels in those templates, scored', async () => {
    const engine = await getEngine();
    const plain = await postJson({ videoId: ids.brg });
    const res = await postJson({ videoId: ids.brg, templates: 'actionclip' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.labelSet, 'kinetics400+actionclip');
    assert.deepEqual(res.body, JSON.parse(JSON.stringify(await tagVideo(engine, ids.brg, labelSet('kinetics400', 'actionclip'), 5))));
    // The library's own templates: the same answer as no choice at all.
    assert.deepEqual((await postJson({ videoId: ids.brg, templates: 'clip-kinetics' })).body, plain.body);
    // In a multipart request too.
    const form = await upload(await multipart([['videoId', String(ids.brg)], ['templates', 'actionclip']]));
    assert.equal((await form.json()).labelSet, 'kinetics400+actionclip');
    for (const templates of ['nope', 'ActionCLIP', '', 3]) {
      const bad = await postJson({ videoId: ids.brg, templates });
      assert.equal(bad.status, 400, JSON.stringify(templates));
      assert.match(bad.body.error, /templates must be one of clip-kinetics, clip-ucf101, actionclip/);
    }
  });

  test('the label cache keeps to VIDSEARCH_LABEL_CACHE_MB, least recently used first; the library\'s set stays', async () => {
    const dir = path.join(cfg.cacheDir, 'labels');
    // A set's file is named by its key (":" made "_") and the model: one model in this cache.
    const fileOf = (key: string) => fs.readdirSync(dir).find((n) => n.startsWith(`${key.replace(':', '_')}-`) && n.endsWith('.f32'));
    assert.equal((await postJson({ videoId: ids.red, k: 12 })).status, 200); // scored: its vectors are cached
    const active = fileOf('kinetics400');
    assert.ok(active);
    // The library's set is the least recently used file: the first to go, but for its pin.
    const old = new Date(Date.now() - 30 * 86_400_000);
    fs.utimesSync(path.join(dir, active), old, old);
    const sets = Array.from({ length: 12 }, (_, i) => ['red', 'green', ...Array.from({ length: 100 }, (_, j) => `colour ${i}-${j}`)]);
    for (const labels of sets) {
      const res = await postJson({ videoId: ids.red, labels });
      assert.equal(res.status, 200);
      assert.equal(res.body.labels[0].label, 'red');
    }
    const cached = fs.readdirSync(dir).filter((n) => n.endsWith('.f32'));
    const bytes = cached.reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).size, 0);
    assert.ok(bytes <= 2 ** 20, `${bytes} bytes in the label cache (${cached.length} files)`);
    assert.equal(fileOf('kinetics400'), active, "the library's label set was kept");
    assert.ok(fileOf(customLabelSet(sets.at(-1)!).key), 'the newest set was kept');
    assert.equal(fileOf(customLabelSet(sets[0]).key), undefined, 'the oldest custom set went');
    // A removed set is encoded again when asked for: the same answer.
    const again = await postJson({ videoId: ids.red, labels: sets[0] });
    assert.equal(again.body.labels[0].label, 'red');
  });
});

describe('label sets and the action filter', () => {
  test('GET /api/actions/labels: the shipped sets and the library\'s', async () => {
    const res = await labelSets(new Request('http://localhost/api/actions/labels'), { params: Promise.resolve({}) });
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.active, 'kinetics400');
    assert.deepEqual(body.sets, [
      { name: 'kinetics400', labels: 400, templates: 28, defaultTemplates: 'clip-kinetics' },
      { name: 'kinetics700', labels: 700, templates: 28, defaultTemplates: 'clip-kinetics' },
      { name: 'ucf101', labels: 101, templates: 48, defaultTemplates: 'clip-ucf101' },
    ]);
    const one = async (name: string) => labelSetByName(new Request(`http://localhost/api/actions/labels/${name}`), { params: Promise.resolve({ name }) });
    const ucf = await (await one('ucf101')).json();
    assert.equal(ucf.labels.length, 101);
    assert.equal(ucf.templates.length, 48);
    assert.equal((await one('imagenet')).status, 404);
  });

  test('GET /api/search?action=: only videos and segments tagged with it; tags on the results', async () => {
    const colours = customLabelSet(COLOURS);
    const writer = await openEngine(cfg, { writer: true });
    try {
      await retagAll(writer, colours);
    } finally {
      await writer.close();
    }
    const get = async (qs: string) => {
      const res = await search(new Request(`http://localhost/api/search?${qs}`), { params: Promise.resolve({}) });
      return { status: res.status, body: await res.json() };
    };
    const all = await get('q=red&k=10');
    assert.equal(all.body.results.length, 4);
    const red = all.body.results.find((r: { videoId: number }) => r.videoId === ids.red);
    assert.equal(red.labels[0].label, 'red');
    assert.ok(red.labels.length <= 3);

    const blue = await get('q=red&k=10&action=blue');
    assert.equal(blue.status, 200);
    assert.deepEqual(blue.body.results.map((r: { videoId: number }) => r.videoId).sort(), [ids.blue, ids.brg].sort());
    const brg = blue.body.results.find((r: { videoId: number }) => r.videoId === ids.brg);
    assert.deepEqual(brg.moments.map((m: { start: number; end: number }) => [m.start, m.end]), [[0, 4]], 'only the blue segment');
    assert.deepEqual((await get('q=red&action=walking%20the%20dog')).body.results, []);
    assert.equal((await get('q=red&k=10&action=')).body.results.length, 4, 'an empty action is no filter');
    assert.equal((await get(`q=red&action=${'a'.repeat(201)}`)).status, 400);

    const listed = await (await labelSets(new Request('http://localhost/api/actions/labels'), { params: Promise.resolve({}) })).json();
    assert.equal(listed.active, colours.key);
    const active = await (await labelSetByName(new Request('http://localhost/api/actions/labels/active'), { params: Promise.resolve({ name: 'active' }) })).json();
    assert.deepEqual(active.labels, COLOURS);
    // The library's set is now the colours: a plain request gets them, from the stored tags.
    assert.equal((await postJson({ videoId: ids.green })).body.labels[0].label, 'green');
    // With templates: the library's own labels written into them (issue 12).
    const templated = await postJson({ videoId: ids.green, templates: 'actionclip' });
    assert.deepEqual([templated.body.labelSet, templated.body.labels[0].label], [customLabelSet(COLOURS, 'actionclip').key, 'green']);
  });
});
