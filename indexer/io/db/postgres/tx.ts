// The small helpers more than one PostgreSQL repository uses inside its transactions: the
// generation bump, dropping a video's vector rows, the identity row, and the vectors' two forms
// (float32 LE bytea, the truth as in SQLite; pgvector's text literal for the ANN column).
import type pg from 'pg';

/** A transaction's client or the connection: anything that runs a query with parameters. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

export async function bumpGeneration(q: Queryable): Promise<void> {
  // The row lock it takes is held to the commit: concurrent writers bump one after the other.
  await q.query(`INSERT INTO "Setting" ("key", "value") VALUES ('generation', '1') ON CONFLICT ("key") DO UPDATE SET "value" = ("Setting"."value"::bigint + 1)::text`);
}

/** Drops a video's tags, frames and segments; returns the segment ids it held. */
export async function deleteVectors(q: Queryable, videoId: number): Promise<number[]> {
  await q.query('DELETE FROM "Tag" WHERE "videoId" = $1', [videoId]);
  await q.query('DELETE FROM "Frame" WHERE "videoId" = $1', [videoId]);
  const r = await q.query<{ id: number }>('DELETE FROM "Segment" WHERE "videoId" = $1 RETURNING "id"', [videoId]);
  return r.rows.map((x) => x.id).sort((a, b) => a - b);
}

export async function upsertIdentity(q: Queryable, value: string): Promise<void> {
  await q.query(`INSERT INTO "Setting" ("key", "value") VALUES ('identity', $1) ON CONFLICT ("key") DO UPDATE SET "value" = EXCLUDED."value"`, [value]);
}

/**
 * pgvector's text form of a vector. Exact: a float32 printed as the shortest double that reads back
 * as itself is parsed by pgvector (strtof) into the same float32.
 */
export function vectorLiteral(v: Float32Array): string {
  return `[${Array.from(v).join(',')}]`;
}

/** A Float32Array's bytes as pg sends bytea (no copy). */
export function vectorBytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * A write refused because this role may only read (insufficient_privilege, read_only_sql_transaction):
 * a web server may run with SELECT grants only, and leaves index upkeep to the writers.
 */
export function isReadOnlyRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '42501' || code === '25006';
}
