// Shared test setup: the project's test model (built once per test process) and fresh data
// directories. Everything is real: ffmpeg, ONNX Runtime, SQLite, HNSW.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { forgetProcessConfig, resolveConfig, sqlitePath, type Config, type ConfigInput } from '../indexer/services/config';
import { buildTestModel } from '../indexer/testkit/build';
import type { OpenEngine, OpenLibrary } from '../indexer/services/engine';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
/** Committed test data (copied from reference sources, so tests never read outside the repository). */
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');

export function tempDir(prefix = 'vidsearch-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

let modelDir: Promise<string> | undefined;

/** The designed test model, built into a temp folder once per process. */
export function testModel(): Promise<string> {
  modelDir ??= (async () => {
    const dir = path.join(tempDir('vidsearch-model-'), 'test-clip');
    await buildTestModel(dir);
    return dir;
  })();
  return modelDir;
}

// Label vectors depend only on the model and the label set, so tests share one cache.
const sharedCache = tempDir('vidsearch-cache-');

/** A configuration on a fresh data directory using the test model. */
export async function testConfig(overrides: ConfigInput = {}): Promise<Config> {
  const home = tempDir('vidsearch-home-');
  return resolveConfig({ home, model: await testModel(), threads: 1, cacheDir: sharedCache, ...overrides }, {});
}

// The web app's engine and library handles are process-wide singletons opened from the environment
// on first use (app/lib/engine.ts), as is the configuration they read; a test that changes the
// environment closes them first.
const app = globalThis as typeof globalThis & { __vidsearchEngine?: Promise<OpenEngine>; __vidsearchLibrary?: Promise<OpenLibrary>; __vidsearchWork?: Promise<{ close(): Promise<void> }> };

/** Closes the app's engine and library handles, so the next request opens them anew. */
export async function resetAppEngine(): Promise<void> {
  const open = [app.__vidsearchEngine, app.__vidsearchLibrary];
  app.__vidsearchEngine = undefined;
  app.__vidsearchLibrary = undefined;
  const work = app.__vidsearchWork;
  app.__vidsearchWork = undefined;
  await (await work?.catch(() => undefined))?.close();
  // The process's configuration too (services/config.ts processConfig): the next request reads the environment anew.
  forgetProcessConfig();
  for (const handle of open) await (await handle?.catch(() => undefined))?.close();
}

/**
 * Runs `fn` on the library's SQLite file opened directly with better-sqlite3, then closes it. For
 * fault-injection and inspection tests only: damaging or editing rows behind the store's back,
 * adding a failing trigger, counting what the storage interface does not expose. The engine never
 * reaches its database this way (services/store.ts goes through the repositories of core/storage.ts).
 */
export function withDatabaseFile<T>(cfg: Pick<Config, 'databaseUrl'>, fn: (db: Database.Database) => T): T {
  const db = new Database(sqlitePath(cfg.databaseUrl), { timeout: 15_000, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** One number from a query on the library's database file (a count). */
export function countRows(cfg: Pick<Config, 'databaseUrl'>, sql: string, ...params: unknown[]): number {
  return withDatabaseFile(cfg, (db) => Number(db.prepare(sql).pluck().get(...params)));
}

/** Segment and frame rows whose video is not indexed (none, if every write was one transaction). */
export function orphanRows(cfg: Pick<Config, 'databaseUrl'>): number {
  const of = (table: string) => countRows(cfg, `SELECT count(*) FROM "${table}" t JOIN "Video" v ON v."id" = t."videoId" WHERE v."status" != 'indexed'`);
  return of('Segment') + of('Frame');
}
