// The libraries and the queue over HTTP: the route handlers called as Next.js calls them, on a
// data directory with generated videos and the test model, and a worker run in this process.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEngine } from '../indexer/services/engine';
import { openWork } from '../indexer/services/libraries';
import { runWorker } from '../indexer/services/worker';
import { TEST_COLORS } from '../indexer/testkit/build';
import { GET as listLibraries, POST as addLibrary, DELETE as removeById } from '../app/api/libraries/route';
import { PATCH as patchLibrary } from '../app/api/libraries/[id]/route';
import { POST as scanLibrary } from '../app/api/libraries/[id]/scan/route';
import { GET as listJobs } from '../app/api/jobs/route';
import { POST as retryJob } from '../app/api/jobs/[id]/retry/route';
import { GET as search } from '../app/api/search/route';
import { makeColorVideo, makeTextFile, type RGB } from './fixtures/videos';
import { resetAppEngine, tempDir, testConfig } from './helpers';
import type { Config } from '../indexer/services/config';

type Handler = (req: Request, ctx: { params: Promise<{ id: string }> }) => Promise<Response>;

async function call(handler: Handler, url: string, opts: { id?: string | number; body?: unknown; method?: string; type?: string } = {}) {
  const init: RequestInit = { method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST') };
  if (opts.body !== undefined) {
    init.body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    init.headers = { 'content-type': opts.type ?? 'application/json' };
  }
  const res = await handler(new Request(new URL(url, 'http://localhost'), init), { params: Promise.resolve({ id: String(opts.id ?? '') }) });
  return { status: res.status, body: (await res.json()) as any };
}

let cfg: Config;
let lib: string;

/** What a worker beside the server does: the queue's jobs, until none is left. */
async function work(): Promise<void> {
  const engine = await openEngine(cfg, { writer: true });
  const w = await openWork(cfg);
  try {
    await runWorker(engine, w, { untilDone: true, idleMs: 50 });
  } finally {
    await w.close();
    await engine.close();
  }
}

before(async () => {
  lib = tempDir('vidsearch-lib-');
  await makeColorVideo(path.join(lib, 'red.mp4'), [{ color: TEST_COLORS.red as RGB, seconds: 2 }]);
  await makeColorVideo(path.join(lib, 'blue.mp4'), [{ color: TEST_COLORS.blue as RGB, seconds: 2 }]);
  await makeTextFile(path.join(lib, 'broken.mkv'));
  cfg = await testConfig();
  await resetAppEngine();
  process.env.VIDSEARCH_HOME = cfg.home;
  process.env.VIDSEARCH_MODEL = cfg.model;
  process.env.VIDSEARCH_THREADS = '1';
});
after(async () => {
  await resetAppEngine();
});

describe('libraries and jobs over HTTP', () => {
  test('adding a folder queues its scan; a worker indexes it; it is searchable and listed with its counts', async () => {
    const added = await call(addLibrary, '/api/libraries', { body: { path: lib } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.library.path, fs.realpathSync(lib));
    assert.equal(added.body.created, true);
    const again = await call(addLibrary, '/api/libraries', { body: { path: lib } });
    assert.equal(again.status, 200, 'adding it again is not an error');
    let jobs = await call(listJobs, '/api/jobs');
    assert.equal(jobs.body.counts.queued, 1, JSON.stringify(jobs.body.counts));
    await work();
    jobs = await call(listJobs, '/api/jobs?state=failed');
    assert.equal(jobs.body.jobs.length, 1, 'the file that is not a video');
    assert.match(jobs.body.jobs[0].key, /broken\.mkv$/);
    assert.match(jobs.body.jobs[0].error, /not a video/);
    const libs = await call(listLibraries, '/api/libraries');
    assert.equal(libs.body.libraries.length, 1);
    assert.deepEqual(libs.body.libraries[0].videos, { pending: 0, indexed: 2, failed: 1, total: 3 });
    assert.ok(Date.parse(libs.body.libraries[0].lastScanAt) >= Date.parse(added.body.library.createdAt), 'its scan is recorded');
    const found = await call(search, '/api/search?q=red');
    assert.equal(path.basename(found.body.results[0].path), 'red.mp4');
  });

  test('retry queues a failed job again; pausing watching and rescanning work by id', async () => {
    const failed = (await call(listJobs, '/api/jobs?state=failed')).body.jobs[0];
    assert.equal((await call(retryJob, `/api/jobs/${failed.id}/retry`, { id: failed.id, method: 'POST' })).status, 202);
    assert.equal((await call(retryJob, '/api/jobs/999999/retry', { id: 999999, method: 'POST' })).status, 404);
    const id = (await call(listLibraries, '/api/libraries')).body.libraries[0].id;
    const paused = await call(patchLibrary, `/api/libraries/${id}`, { id, method: 'PATCH', body: { watch: false } });
    assert.equal(paused.status, 200);
    assert.equal(paused.body.library.watch, false);
    assert.equal((await call(scanLibrary, `/api/libraries/${id}/scan`, { id, method: 'POST' })).status, 202);
    await work();
    assert.equal((await call(listJobs, '/api/jobs')).body.counts.queued, 0);
  });

  test('bad input: 400, 404, 409, 415, 422 with a message, nothing changed', async () => {
    const cases: Array<[Handler, string, Parameters<typeof call>[2], number]> = [
      [addLibrary, '/api/libraries', { body: { path: path.join(lib, 'red.mp4') } }, 422],
      [addLibrary, '/api/libraries', { body: { path: '/no/such/folder' } }, 422],
      [addLibrary, '/api/libraries', { body: { path: path.join(lib) + '/sub/..' } }, 200],
      [addLibrary, '/api/libraries', { body: { path: 42 } }, 400],
      [addLibrary, '/api/libraries', { body: '{not json' }, 400],
      [addLibrary, '/api/libraries', { body: 'path=/x', type: 'application/x-www-form-urlencoded' }, 415],
      [listJobs, '/api/jobs?state=bogus', {}, 400],
      [removeById, '/api/libraries?id=abc', { method: 'DELETE' }, 400],
      [removeById, '/api/libraries?id=999', { method: 'DELETE' }, 404],
    ];
    fs.mkdirSync(path.join(lib, 'sub'), { recursive: true });
    cases.push([addLibrary, '/api/libraries', { body: { path: path.join(lib, 'sub') } }, 409]);
    for (const [handler, url, opts, status] of cases) {
      const r = await call(handler, url, opts);
      assert.equal(r.status, status, `${url} ${JSON.stringify(opts)}: ${JSON.stringify(r.body)}`);
      if (status >= 400) assert.equal(typeof r.body.error, 'string');
    }
    assert.equal((await call(listLibraries, '/api/libraries')).body.libraries.length, 1);
  });

  test('removing a library removes its videos from the index (the files stay)', async () => {
    const id = (await call(listLibraries, '/api/libraries')).body.libraries[0].id;
    const removed = await call(removeById, `/api/libraries?id=${id}`, { method: 'DELETE' });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.removedVideos, 3);
    await work();
    assert.equal((await call(listLibraries, '/api/libraries')).body.libraries.length, 0);
    const found = await call(search, '/api/search?q=red');
    assert.equal(found.body.results.length, 0, JSON.stringify(found.body.results.map((r: { path: string }) => r.path)));
    assert.ok(fs.existsSync(path.join(lib, 'red.mp4')), 'the file itself is untouched');
  });
});
