// The two ways the SQLite repositories reach the database file: Prisma (db.ts: writes,
// transactions, most reads) and a Prisma-free read-only better-sqlite3 connection for the hot reads
// of a search (readById, prepared). Shared by every repository of one storage; closed with it.
// Also the small transaction helpers more than one repository uses.
import type { Statement } from 'better-sqlite3';
import { migrate, openReader, prismaClient, rawConnection, type Db } from '../db';
import { sqlitePath } from '../../../services/config';

export type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

export class SqliteConnection {
  private reader: ReturnType<typeof openReader> | undefined;
  private readonly statements = new Map<string, Statement>();
  private client: Db | undefined;

  private constructor(private readonly databaseUrl: string) {}

  /** Migrates the database file; the Prisma client is made on first use (a search never needs it). */
  static async open(databaseUrl: string): Promise<SqliteConnection> {
    migrate(sqlitePath(databaseUrl));
    return new SqliteConnection(databaseUrl);
  }

  get db(): Db {
    this.client ??= prismaClient(sqlitePath(this.databaseUrl));
    return this.client;
  }

  /** the better-sqlite3 connection under Prisma (db.ts rawConnection): for bulk work inside a transaction */
  get raw(): ReturnType<typeof rawConnection> {
    return rawConnection(this.db);
  }

  // The search path reads through the Prisma-free reader connection: a Prisma query costs about a
  // millisecond of engine round trip before any row, and a search makes several (bench/_prof).

  /** the read-only connection, opened on first use */
  get readConnection(): ReturnType<typeof openReader> {
    this.reader ??= openReader(this.databaseUrl);
    return this.reader;
  }

  /**
   * Rows by id on the read-only connection. The ids travel as one JSON array (json_each), so each
   * query is prepared once and reused whatever the number of ids; raw() rows (arrays) are about
   * twice as cheap to make as objects.
   */
  readById(sql: string, ids: number[], leading: unknown[] = []): unknown[][] {
    return ids.length ? (this.prepared(sql).all(...leading, JSON.stringify(ids)) as unknown[][]) : [];
  }

  /** A statement on the read-only connection, prepared once, returning raw rows. */
  prepared(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.readConnection.prepare(sql).raw();
      this.statements.set(sql, st);
    }
    return st;
  }

  async close(): Promise<void> {
    try {
      await this.client?.$disconnect();
    } finally {
      this.reader?.close();
      this.reader = undefined;
      this.statements.clear();
    }
  }
}

export async function bumpGeneration(tx: Tx): Promise<void> {
  await tx.$executeRawUnsafe(
    `INSERT INTO "Setting" ("key", "value") VALUES ('generation', '1') ON CONFLICT("key") DO UPDATE SET "value" = CAST("value" AS INTEGER) + 1`,
  );
}

export { tagRows } from '../rows';

/** Drops a video's tags, frames and segments; returns the segment ids it held. */
export async function deleteVectors(tx: Tx, videoId: number): Promise<number[]> {
  const old = await tx.segment.findMany({ where: { videoId }, select: { id: true } });
  await tx.tag.deleteMany({ where: { videoId } });
  await tx.frame.deleteMany({ where: { videoId } });
  await tx.segment.deleteMany({ where: { videoId } });
  return old.map((s) => s.id);
}

export async function upsertIdentity(tx: Tx, value: string): Promise<void> {
  await tx.setting.upsert({ where: { key: 'identity' }, create: { key: 'identity', value }, update: { value } });
}
