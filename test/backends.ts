// The stores a suite runs on, as one matrix: SQLite (a file per test) and PostgreSQL on PGlite with
// pgvector (one server per test file, started on first use, emptied for each test: PGlite serves
// one database whatever the URL names, and ignores per-connection search_path, so a fresh database
// is a dropped and recreated public schema). Raw SQL for fault injection and counting goes through
// sql()/count(), so a test states its fault once per dialect, not once per copy of the test.
import path from 'node:path';
import { after } from 'node:test';
import pg from 'pg';
import { startPglite, type TestPostgres } from './postgres';
import { tempDir, withDatabaseFile } from './helpers';
import { openWork } from '../indexer/services/libraries';

export interface StoreCfg {
  home: string;
  databaseUrl: string;
}

export interface TestBackend {
  name: 'sqlite' | 'postgres';
  /** a fresh, empty store's configuration (its own data directory) */
  fresh(): Promise<StoreCfg>;
  /** runs SQL on the store's database behind its back */
  sql(cfg: StoreCfg, text: string): Promise<void>;
  /** one number from a query (a count) */
  count(cfg: StoreCfg, text: string): Promise<number>;
}

export const sqliteBackend: TestBackend = {
  name: 'sqlite',
  async fresh() {
    const home = tempDir('vidsearch-home-');
    return { home, databaseUrl: `file:${path.join(home, 'vidsearch.db')}` };
  },
  async sql(cfg, text) {
    withDatabaseFile(cfg, (db) => db.exec(text));
  },
  async count(cfg, text) {
    return withDatabaseFile(cfg, (db) => Number(db.prepare(text).pluck().get()));
  },
};

let server: Promise<TestPostgres> | undefined;
after(async () => {
  await (await server?.catch(() => undefined))?.stop();
});

/** The file's PGlite server (started once, stopped when the file's tests end). */
export function pgliteServer(): Promise<TestPostgres> {
  server ??= startPglite();
  return server;
}

async function onServer<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Empties a PostgreSQL database: every table, the migrations record and the extension go. */
export async function emptyPostgres(url: string): Promise<void> {
  await onServer(url, (c) => c.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public'));
}

export const pgliteBackend: TestBackend = {
  name: 'postgres',
  async fresh() {
    const { url } = await pgliteServer();
    await emptyPostgres(url);
    return { home: tempDir('vidsearch-home-'), databaseUrl: url };
  },
  async sql(cfg, text) {
    await onServer(cfg.databaseUrl, (c) => c.query(text));
  },
  async count(cfg, text) {
    return onServer(cfg.databaseUrl, async (c) => Number(Object.values((await c.query(text)).rows[0] ?? {})[0]));
  },
};

/** Both stores; VIDSEARCH_TEST_STORES=sqlite (or postgres) runs one of them. */
export const BACKENDS: TestBackend[] = [sqliteBackend, pgliteBackend].filter((b) => !process.env.VIDSEARCH_TEST_STORES || process.env.VIDSEARCH_TEST_STORES.split(',').includes(b.name));

/**
 * Whether indexTargets runs on this backend: it goes through the job queue (services/libraries.ts
 * openWork), whose PostgreSQL side comes from another branch (d-pg-queue). Until it is merged,
 * openWork refuses a postgresql:// URL as SQLite-only, and the suites that index through the queue
 * skip PostgreSQL; after it, they run there with no change here.
 */
export function queueRuns(b: TestBackend): boolean {
  if (b.name === 'sqlite') return true;
  try {
    const work = openWork({ databaseUrl: 'postgresql://nobody@127.0.0.1:1/none' }) as unknown;
    // Whatever it opened (nothing connects to port 1), closed again.
    void Promise.resolve(work).then((w) => (w as { close?: () => unknown } | undefined)?.close?.(), () => {});
    return true;
  } catch (err) {
    return !/needs the SQLite store/.test(String((err as Error)?.message));
  }
}

/**
 * The one store of a file whose tests share one library (test/api.test.ts): the first of BACKENDS,
 * so SQLite unless `VIDSEARCH_TEST_STORES=postgres` asks for PostgreSQL for that run.
 */
export function fileBackend(): TestBackend {
  return BACKENDS[0] ?? sqliteBackend;
}
