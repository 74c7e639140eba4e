// Workers on one data directory, as real processes on real SQLite: several index one library
// together, each video exactly once; a worker killed mid-job loses the job to another after its
// lease, nothing lost or duplicated; two `vidsearch index` runs over the same folder at once
// index each file once; the database and the HNSW index agree throughout (doctor).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testModel, withDatabaseFile } from './helpers';

const BIN = path.join(REPO_ROOT, 'bin', 'vidsearch.js');
const COLORS = Object.keys(TEST_COLORS);
let model: string;

function env(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, VIDSEARCH_HOME: home, VIDSEARCH_MODEL: model, VIDSEARCH_THREADS: "1", ...extra } as unknown as NodeJS.ProcessEnv;
}

function cli(home: string, args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: env(home), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function startWorker(home: string, extra: Record<string, string> = {}): ChildProcess & { log: () => string } {
  const child = spawn(process.execPath, [BIN, 'worker', '--no-watch'], { env: env(home, extra), stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  return Object.assign(child, { log: () => log });
}

const exited = (c: ChildProcess) => new Promise<number | null>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code))));

async function untilIndexed(home: string, n: number, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const done = withDatabaseFile({ databaseUrl: `file:${path.join(home, 'vidsearch.db')}` }, (db) => db.prepare(`SELECT count(*) FROM "Video" WHERE "status" = 'indexed'`).pluck().get() as number);
    if (done >= n) return;
    if (Date.now() > end) throw new Error(`${done} of ${n} videos indexed after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What the database says happened: index jobs that indexed each file, and rows that agree with each other. */
function ledger(home: string) {
  return withDatabaseFile({ databaseUrl: `file:${path.join(home, 'vidsearch.db')}` }, (db) => ({
    indexedJobs: db.prepare(`SELECT "key", count(*) AS n FROM "Job" WHERE "kind" = 'index' AND "state" = 'done' AND json_extract("result", '$.status') = 'indexed' GROUP BY "key"`).all() as Array<{ key: string; n: number }>,
    videos: db.prepare(`SELECT count(*) FROM "Video" WHERE "status" = 'indexed'`).pluck().get() as number,
    // Each video's segments are its segmentCount rows, no more (no duplicate rows from two workers).
    mismatched: db.prepare(`SELECT count(*) FROM "Video" v WHERE v."segmentCount" != (SELECT count(*) FROM "Segment" s WHERE s."videoId" = v."id")`).pluck().get() as number,
    active: db.prepare(`SELECT count(*) FROM "Job" WHERE "state" IN ('queued', 'running')`).pluck().get() as number,
  }));
}

function doctorHealthy(home: string): void {
  const d = cli(home, ['doctor', '--json']);
  assert.equal(d.code, 0, d.stdout + d.stderr);
}

async function library(dir: string, n: number, seconds: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const color = COLORS[i % COLORS.length]!;
    const file = path.join(dir, `${String(i).padStart(2, '0')}-${color}.mp4`);
    await makeColorVideo(file, [{ color: TEST_COLORS[color] as RGB, seconds }]);
    files.push(file);
  }
  return files;
}

before(async () => {
  model = await testModel();
});

describe('workers on one data directory', () => {
  test('3 workers index a library of 30 videos: each video indexed once, all searchable, database and index agree', async () => {
    const lib = tempDir('vidsearch-lib-');
    const files = await library(lib, 30, 1);
    const home = tempDir('vidsearch-home-');
    assert.equal(cli(home, ['library', 'add', lib, '--no-watch']).code, 0);
    const workers = [0, 1, 2].map(() => startWorker(home));
    try {
      await untilIndexed(home, 30);
      for (let i = 0; i < 100 && !workers.every((w) => /"event":"worker"/.test(w.log())); i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      for (const w of workers) w.kill('SIGTERM');
    }
    const codes = await Promise.all(workers.map(exited));
    assert.deepEqual(codes, [0, 0, 0], workers.map((w) => w.log().slice(-400)).join('\n'));
    const l = ledger(home);
    assert.equal(l.videos, 30);
    assert.equal(l.mismatched, 0);
    assert.equal(l.indexedJobs.length, 30);
    assert.deepEqual(l.indexedJobs.filter((j) => j.n !== 1), [], 'no file indexed twice');
    const busy = workers.filter((w) => /"kind":"index"/.test(w.log())).length;
    assert.ok(busy >= 2, `more than one worker indexed (${busy})`);
    doctorHealthy(home);
    for (const color of COLORS.slice(0, 3)) {
      const r = cli(home, ['search', color, '--json', '--k', '30']);
      const paths = new Set(JSON.parse(r.stdout).results.map((x: { path: string }) => x.path));
      for (const f of files.filter((f) => f.endsWith(`-${color}.mp4`))) assert.ok(paths.has(f), `${path.basename(f)} found by "${color}"`);
    }
  });

  test('kill -9 a worker at random moments (20 trials): its job is redone by another after the lease; nothing lost, nothing indexed twice', async () => {
    const lib = tempDir('vidsearch-lib-');
    await library(lib, 3, 3);
    const trials = Number(process.env.VIDSEARCH_KILL_TRIALS ?? 20);
    const lease = { VIDSEARCH_JOB_LEASE_MS: '600' };
    let killedMidJob = 0;
    for (let t = 0; t < trials; t++) {
      const home = tempDir('vidsearch-home-');
      assert.equal(cli(home, ['library', 'add', lib, '--no-watch']).code, 0);
      const doomed = startWorker(home, lease);
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 1200));
      doomed.kill('SIGKILL');
      await exited(doomed);
      const running = withDatabaseFile({ databaseUrl: `file:${path.join(home, 'vidsearch.db')}` }, (db) => db.prepare(`SELECT count(*) FROM "Job" WHERE "state" = 'running'`).pluck().get() as number);
      if (running > 0) killedMidJob++;
      const rescuer = startWorker(home, lease);
      try {
        await untilIndexed(home, 3, 60_000);
        // The run is complete once no job is left (a scan may still be queuing).
        for (let i = 0; i < 40 && ledger(home).active > 0; i++) await new Promise((r) => setTimeout(r, 100));
        // Stopped once running (a SIGTERM before its handlers are in place is Node's default exit).
        for (let i = 0; i < 100 && !/"event":"worker"/.test(rescuer.log()); i++) await new Promise((r) => setTimeout(r, 50));
      } finally {
        rescuer.kill('SIGTERM');
      }
      assert.equal(await exited(rescuer), 0, rescuer.log().slice(-500));
      const l = ledger(home);
      assert.equal(l.videos, 3, `trial ${t}`);
      assert.equal(l.mismatched, 0, `trial ${t}`);
      assert.deepEqual(l.indexedJobs.map((j) => j.n), [1, 1, 1], `trial ${t}: each file indexed once`);
      doctorHealthy(home);
    }
    // The trials hit running jobs, not only idle moments (reported; the timing is random).
    console.log(`# kill -9 hit a running job in ${killedMidJob} of ${trials} trials`);
    assert.ok(killedMidJob > 0, 'at least one kill landed in the middle of a job');
  });

  test('a worker signalled twice mid-job (Ctrl-C on npm start: the terminal and npm start both pass it on) hands the job back and exits 0', async () => {
    const lib = tempDir('vidsearch-lib-');
    await makeColorVideo(path.join(lib, 'long.mp4'), [{ color: TEST_COLORS.red as RGB, seconds: 600 }], { width: 320, height: 240, fps: 10 });
    const home = tempDir('vidsearch-home-');
    assert.equal(cli(home, ['library', 'add', lib, '--no-watch']).code, 0);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const w = startWorker(home);
      for (let i = 0; i < 600 && !/"event":"started"[^\n]*"kind":"index"/.test(w.log()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(w.log(), /"kind":"index"/, 'the worker started indexing');
      // The second a moment after the first (two signals at once would merge into one): it arrives
      // while the worker is handing its job back.
      w.kill(signal);
      await new Promise((r) => setTimeout(r, 30));
      w.kill(signal);
      assert.equal(await exited(w), 0, `${signal}: ${w.log().slice(-500)}`);
      assert.match(w.log(), /"event":"handed-back"/);
      const states = withDatabaseFile({ databaseUrl: `file:${path.join(home, 'vidsearch.db')}` }, (db) => db.prepare(`SELECT "state" FROM "Job" WHERE "kind" = 'index'`).pluck().all());
      assert.deepEqual(states, ['queued'], `${signal}: the job is free for the next worker at once, not held until its lease passes`);
    }
  });

  test('two `vidsearch index` runs over the same folder at once: each file indexed once, both reports complete', async () => {
    const lib = tempDir('vidsearch-lib-');
    await library(lib, 8, 2);
    const home = tempDir('vidsearch-home-');
    const run = () =>
      new Promise<{ code: number | null; stderr: string; report: { indexed: unknown[]; skipped: unknown[]; failed: unknown[] } }>((resolve) => {
        const c = spawn(process.execPath, [BIN, 'index', lib, '--json'], { env: env(home, { VIDSEARCH_DEBUG: '1' }), stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let stderr = '';
        c.stdout!.on('data', (d) => (out += d));
        c.stderr!.on('data', (d) => (stderr += d));
        c.on('exit', (code) => resolve({ code, stderr, report: JSON.parse(out || '{}') }));
      });
    const [a, b] = await Promise.all([run(), run()]);
    assert.deepEqual([a.code, b.code], [0, 0], [a, b].map((r) => `${JSON.stringify(r.report.failed)}\n${r.stderr.slice(-1500)}`).join('\n---\n'));
    for (const r of [a, b]) assert.equal(r.report.indexed.length + r.report.skipped.length, 8, JSON.stringify(r.report));
    const l = ledger(home);
    assert.equal(l.videos, 8);
    assert.deepEqual(l.indexedJobs.filter((j) => j.n !== 1), [], 'no file indexed twice');
    assert.equal(l.indexedJobs.length, 8);
    doctorHealthy(home);
  });
});
