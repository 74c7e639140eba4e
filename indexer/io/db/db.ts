// The database I/O boundary: a Prisma client on SQLite (better-sqlite3 adapter, no engine binary)
// with the committed migrations applied on open.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import type { PrismaClient } from '@prisma/client';
import { sqlitePath } from '../../services/config';
import { StoreError, asDiskFull, errorMessage } from '../../core/errors';
import { MIGRATIONS_DIR, PROJECT_ROOT } from '../files/paths';

// Prisma's client and its adapter are required when a client is first made, not imported with
// this module: loading them cost every CLI command ~50 ms, and a search never makes one (it reads
// through openReader; npm run bench -- --only=cli).
const requireFromRoot = createRequire(path.join(PROJECT_ROOT, 'package.json'));

export type Db = PrismaClient;

// A reader waits this long for a writer's transaction instead of failing with SQLITE_BUSY.
const BUSY_TIMEOUT_MS = 15_000;

/**
 * Applies pending migrations from prisma/migrations, recording them in `_prisma_migrations` exactly
 * as `prisma migrate deploy` does (same table, sha256 checksums), so either tool can take over.
 * Running the Prisma CLI instead would cost a second per command.
 */
export function migrate(file: string, migrationsDir = MIGRATIONS_DIR): string[] {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  } catch (err) {
    throw new StoreError(`cannot open the database ${file}: ${errorMessage(err)} (check DATABASE_URL / VIDSEARCH_HOME and permissions)`, {
      cause: { file },
    });
  }
  const applied: string[] = [];
  try {
    // WAL lets searches read while an indexing run writes.
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, "finished_at" DATETIME,
      "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME,
      "started_at" DATETIME NOT NULL DEFAULT current_timestamp, "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0)`);
    const names = fs
      .readdirSync(migrationsDir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && fs.existsSync(path.join(migrationsDir, d.name, 'migration.sql')))
      .map((d) => d.name)
      .sort();
    const done = new Set(
      (db.prepare('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL').all() as { migration_name: string }[]).map(
        (r) => r.migration_name,
      ),
    );
    for (const name of names) {
      if (done.has(name)) continue;
      const sql = fs.readFileSync(path.join(migrationsDir, name, 'migration.sql'), 'utf8');
      const checksum = crypto.createHash('sha256').update(sql).digest('hex');
      db.transaction(() => {
        // Re-check inside the write lock: another process may have just applied it.
        const again = db.prepare('SELECT 1 FROM _prisma_migrations WHERE migration_name = ? AND finished_at IS NOT NULL').get(name);
        if (again) return;
        const now = new Date().toISOString();
        db.exec(sql);
        db.prepare(
          'INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)',
        ).run(crypto.randomUUID(), checksum, now, name, now);
        applied.push(name);
      }).immediate();
    }
  } catch (err) {
    throw asDiskFull(err, file) ?? new StoreError(`cannot migrate the database ${file}: ${errorMessage(err)}`, { cause: { file } });
  } finally {
    db.close();
  }
  return applied;
}

type Adapter = Awaited<ReturnType<PrismaBetterSQLite3['connect']>>;
interface GuardedAdapter extends PrismaBetterSQLite3 {
  connection: Database.Database | undefined;
}
type Queryable = Pick<Adapter, 'queryRaw' | 'executeRaw'>;

/**
 * The better-sqlite3 adapter with two repairs at the boundary:
 * - a full disk (SQLITE_FULL) comes out as a DiskFullError naming the database file, so callers
 *   tell it from a bad video by type;
 * - a COMMIT that fails is rolled back and the adapter's transaction mutex released. Prisma calls
 *   the adapter's commit() (which releases the mutex) only after COMMIT succeeded, so one failed
 *   COMMIT (a full disk) left every later transaction waiting forever: the process ran out of
 *   work with a promise unsettled and Node exited 13 without a word.
 */
function guardedAdapterClass(Base: typeof PrismaBetterSQLite3) {
  return class GuardedSqliteAdapter extends Base implements GuardedAdapter {
    /** the better-sqlite3 connection the adapter runs every query (and transaction) on (rawConnection) */
    connection: Database.Database | undefined;

    constructor(private readonly file: string) {
      super({ url: `file:${file}`, timeout: BUSY_TIMEOUT_MS });
    }

    override async connect(): Promise<Adapter> {
      const adapter = await super.connect();
      const client = (adapter as unknown as { client?: unknown }).client;
      if (client instanceof Database) {
        this.connection = client;
        // Every transaction takes the write lock when it begins (BEGIN IMMEDIATE), waiting for it
        // with the busy timeout: with the adapter's plain BEGIN, a transaction that read first and
        // then wrote, while another process wrote, failed at once with SQLITE_BUSY (the snapshot it
        // read is stale), which with several workers on one data directory failed videos.
        const prepare = client.prepare.bind(client);
        client.prepare = ((sql: string) => prepare(sql === 'BEGIN' ? 'BEGIN IMMEDIATE' : sql)) as typeof client.prepare;
      }
      this.translate(adapter);
      const start = adapter.startTransaction.bind(adapter);
      adapter.startTransaction = async (level) => {
        const tx = await start(level);
        this.translate(tx);
        const execute = tx.executeRaw.bind(tx);
        tx.executeRaw = async (query) => {
          try {
            return await execute(query);
          } catch (err) {
            if (/^\s*COMMIT\b/i.test(query.sql)) {
              // Prisma now counts the transaction as closed and will not touch it again.
              await execute({ sql: 'ROLLBACK', args: [], argTypes: [] }).catch(() => {}); // none left open: fine
              await tx.rollback();
            }
            throw err;
          }
        };
        return tx;
      };
      return adapter;
    }

    private translate(q: Queryable): void {
      const file = this.file;
      const queryRaw = q.queryRaw.bind(q);
      const executeRaw = q.executeRaw.bind(q);
      q.queryRaw = (query) => queryRaw(query).catch((err: unknown) => Promise.reject(asDiskFull(err, file) ?? err));
      q.executeRaw = (query) => executeRaw(query).catch((err: unknown) => Promise.reject(asDiskFull(err, file) ?? err));
    }
  };
}
// The better-sqlite3 connection under each client (see rawConnection).
const adapters = new WeakMap<Db, GuardedAdapter>();

let loaded: { Client: typeof PrismaClient; Adapter: new (file: string) => GuardedAdapter } | undefined;

/**
 * A Prisma client on a database file that migrate() has brought up to date, made without touching
 * the file: it connects on its first query.
 */
export function prismaClient(file: string): Db {
  loaded ??= {
    Client: (requireFromRoot('@prisma/client') as typeof import('@prisma/client')).PrismaClient,
    Adapter: guardedAdapterClass((requireFromRoot('@prisma/adapter-better-sqlite3') as typeof import('@prisma/adapter-better-sqlite3')).PrismaBetterSQLite3),
  };
  const PrismaClient = loaded.Client;
  const adapter = new loaded.Adapter(file);
  // Waits behind other processes' transactions count against these limits (Prisma's defaults are 2 s and 5 s).
  const prisma = new PrismaClient({ adapter, transactionOptions: { maxWait: BUSY_TIMEOUT_MS, timeout: 10 * BUSY_TIMEOUT_MS } });
  // Connected on its first query, not here: a reader (a CLI search) reads through openReader only,
  // and connecting compiles Prisma's query engine (WebAssembly), ~45 ms of every start
  // (npm run bench -- --only=cli).
  adapters.set(prisma, adapter);
  return prisma;
}

/**
 * The better-sqlite3 connection Prisma's adapter runs on, or undefined if this adapter version
 * does not expose it (callers then go through Prisma). Inside an interactive transaction
 * (`db.$transaction(async (tx) => …)`) statements on it are part of that transaction: the adapter
 * has issued BEGIN on this very connection and holds it until COMMIT/ROLLBACK. Use it only there,
 * for bulk work where Prisma's per-row objects cost too much (Store.saveIndexed).
 */
export function rawConnection(db: Db): Database.Database | undefined {
  return adapters.get(db)?.connection;
}

/**
 * A read-only connection without Prisma, for the hot vector reads of a search (re-ranking reads
 * ~1,000 frame vectors a query; Prisma's blob decoding costs a tenth of a millisecond a row,
 * better-sqlite3 a few microseconds). Reads only what Prisma's connection has committed.
 */
export function openReader(databaseUrl: string): Database.Database {
  const db = new Database(sqlitePath(databaseUrl), { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
  return db;
}
