// `vidsearch store copy`: moves a library between stores (SQLite ↔ PostgreSQL, either way) without
// re-encoding a frame. The rules: which tables go (the library's, not the job queue's), in which
// order (parents first), in batches with progress, only into an empty store, ids kept (segment ids
// are what the indexes return); then a check that the copy is the same library: every table's
// count, and the same nearest segments (by score) for sample segment vectors on both stores.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreError, UsageError } from '../core/errors';
import type { TableRows } from '../core/storage';
import { SqliteRows } from '../io/db/sqlite/rows';
import { PgRows } from '../io/db/postgres/rows';
import { databaseKind, redactUrl, sqlitePath } from './config';
import { Store } from './store';

/** What is copied, parents first; the job queue and the workers are not (they are this moment's work, not the library). */
const TABLES = [
  { table: 'Video', key: 'id', batch: 1000 },
  // Packs (~5.5 KB) and vectors (2 KB at 512-d) make these the heavy rows.
  { table: 'Segment', key: 'id', batch: 500 },
  { table: 'Frame', key: 'id', batch: 2000 },
  { table: 'Tag', key: 'id', batch: 5000 },
  { table: 'Setting', key: 'key', batch: 1000 },
  { table: 'Library', key: 'id', batch: 1000 },
] as const;

/** SQLite's change-log bookkeeping: meaningless in another database (the copy's log starts afresh). */
const LOCAL_SETTINGS = new Set(['changesPrunedThrough']);

/** Sample segments whose nearest neighbours are compared, and how many neighbours. */
const CHECK_QUERIES = 8;
const CHECK_K = 10;

export interface StoreLocation {
  /** what the user gave, fit to print */
  label: string;
  databaseUrl: string;
  /** the data directory a Store opened on it uses (SQLite: its HNSW file beside the database) */
  home: string;
}

/**
 * A store named as `vidsearch store copy` takes it: a postgresql:// URL, a SQLite file: URL, or a
 * data directory (its vidsearch.db).
 */
export function storeLocation(given: string): StoreLocation {
  if (/^postgres(ql)?:\/\//.test(given)) {
    databaseKind(given);
    // A Store on PostgreSQL writes nothing in its data directory (no HNSW file): any folder will do.
    return { label: redactUrl(given), databaseUrl: given, home: os.tmpdir() };
  }
  const url = given.startsWith('file:') ? given : `file:${path.join(path.resolve(given), 'vidsearch.db')}`;
  const file = sqlitePath(url);
  return { label: file, databaseUrl: url, home: path.dirname(file) };
}

function openRows(loc: StoreLocation): Promise<TableRows> {
  return databaseKind(loc.databaseUrl) === 'postgres' ? PgRows.open(loc.databaseUrl) : Promise.resolve(SqliteRows.open(sqlitePath(loc.databaseUrl)));
}

export interface CopyProgress {
  (table: string, done: number, total: number): void;
}

export interface CopyReport {
  from: string;
  to: string;
  tables: Array<{ table: string; from: number; to: number }>;
  /** the nearest-segment check: per sample query, whether both stores gave the same scores, and how many ids both gave */
  search: Array<{ top: number; sameScores: boolean; sharedIds: number }>;
  /** counts equal and every sample query answered alike */
  verified: boolean;
  seconds: number;
}

export async function copyStore(fromGiven: string, toGiven: string, opts: { libraries?: boolean; onProgress?: CopyProgress } = {}): Promise<CopyReport> {
  const started = Date.now();
  const from = storeLocation(fromGiven);
  const to = storeLocation(toGiven);
  if (from.databaseUrl === to.databaseUrl) throw new UsageError('--from and --to name the same store', { cause: { from: from.label } });
  if (databaseKind(from.databaseUrl) === 'sqlite' && !fs.existsSync(sqlitePath(from.databaseUrl))) {
    throw new UsageError(`no database at ${from.label}: --from takes a data directory, a file: URL or a postgresql:// URL`, { cause: { from: from.label } });
  }
  const tables = TABLES.filter((t) => opts.libraries !== false || t.table !== 'Library');
  const src = await openRows(from);
  let dst: TableRows | undefined;
  const counts: CopyReport['tables'] = [];
  try {
    dst = await openRows(to);
    for (const t of ['Video', 'Segment', 'Setting', 'Library']) {
      const n = t === 'Setting' ? (await dst.read('Setting', ['key'], 'key', null, 100)).filter((r) => r.key === 'identity').length : await dst.count(t);
      if (n > 0) {
        throw new StoreError(`the target ${to.label} is not empty (${t === 'Setting' ? 'a model identity is recorded' : `${n} ${t} rows`}): copy into an empty database (a new one, or a new data directory)`, {
          cause: { to: to.label, table: t },
        });
      }
    }
    for (const { table, key, batch } of tables) {
      const theirs = new Set(await dst.columns(table));
      const columns = (await src.columns(table)).filter((c) => theirs.has(c));
      const total = await src.count(table);
      let done = 0;
      opts.onProgress?.(table, 0, total);
      for (let after: number | string | null = null; ; ) {
        const rows = await src.read(table, columns, key, after, batch);
        if (!rows.length) break;
        after = rows.at(-1)![key] as number | string;
        const kept = table === 'Setting' ? rows.filter((r) => !LOCAL_SETTINGS.has(String(r.key))) : rows;
        await dst.write(table, columns, kept);
        done += rows.length;
        opts.onProgress?.(table, done, total);
      }
    }
    await dst.finish(tables.map((t) => t.table));
    for (const { table } of tables) {
      const [a, b] = [await src.count(table), await dst.count(table)];
      const local = table === 'Setting' ? (await src.read('Setting', ['key'], 'key', null, 1000)).filter((r) => LOCAL_SETTINGS.has(String(r.key))).length : 0;
      counts.push({ table, from: a - local, to: b });
    }
  } finally {
    await src.close();
    await dst?.close();
  }
  const search = await compareSearch(from, to);
  const verified = counts.every((c) => c.from === c.to) && search.every((s) => s.sameScores);
  return { from: from.label, to: to.label, tables: counts, search, verified, seconds: (Date.now() - started) / 1000 };
}

/**
 * The text-free search check: sample segment vectors as queries on both stores (each through its
 * own index: HNSW file or pgvector), the top CHECK_K compared by score (equal vectors tie, and a
 * tie may be broken either way, so ids alone would differ on a library of near copies).
 */
async function compareSearch(from: StoreLocation, to: StoreLocation): Promise<CopyReport['search']> {
  const a = await Store.open(from, { log: () => {} });
  try {
    const b = await Store.open(to, { log: () => {} });
    try {
      const queries = await a.sampleSegments(CHECK_QUERIES);
      const out: CopyReport['search'] = [];
      for (const q of queries) {
        const [x, y] = [await a.searchSegments(q, CHECK_K), await b.searchSegments(q, CHECK_K)];
        const sameScores = x.length === y.length && x.every((h, i) => Math.abs(h.score - y[i]!.score) < 1e-4);
        const theirs = new Set(y.map((h) => h.id));
        out.push({ top: x[0]?.id ?? -1, sameScores, sharedIds: x.filter((h) => theirs.has(h.id)).length });
      }
      return out;
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
  }
}
