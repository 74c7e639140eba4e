// Applies prisma/postgres/<name>/migration.sql in name order, recording each in
// `_prisma_migrations` as `prisma migrate deploy` does (same table, sha256 checksums), under a
// Postgres advisory lock so that any number of processes may start at once: one applies, the
// others wait and then find nothing to do.
// A migration whose first lines say `-- requires extension: vector` is skipped (and not recorded)
// when the server does not offer that extension: the library works without pgvector (exact
// search, said by stats and doctor), and picks the migration up once the extension is installed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { StoreError, errorMessage } from '../../../core/errors';
import { PG_MIGRATIONS_DIR } from '../../files/paths';

export interface MigrateResult {
  applied: string[];
  /** migrations left out, with the extension each needs */
  skipped: Array<{ name: string; extension: string }>;
}

// Any constant of our own: the key of the advisory lock the migrator holds.
const MIGRATION_LOCK = 0x76696473; // "vids"

interface Migration {
  name: string;
  sql: string;
  checksum: string;
  requires: string | undefined;
}

export function pgMigrations(dir = PG_MIGRATIONS_DIR, only?: readonly string[]): Migration[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .filter((name) => !only || only.includes(name))
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex'), requires: /^-- requires extension: (\w+)/m.exec(sql)?.[1] };
    });
}

/**
 * `only`: apply just these migrations (a test of the queue on a server without pgvector applies
 * the queue's tables alone).
 */
export async function migratePostgres(pool: pg.Pool, opts: { dir?: string; only?: readonly string[] } = {}): Promise<MigrateResult> {
  const migrations = pgMigrations(opts.dir, opts.only);
  const client = await pool.connect();
  const result: MigrateResult = { applied: [], skipped: [] };
  try {
    // A session lock, held across the migrations' own transactions, released in `finally`.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
        "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
        "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
        "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
      const done = new Map(
        (
          await client.query<{ migration_name: string; checksum: string }>(
            'SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
          )
        ).rows.map((r) => [r.migration_name, r.checksum]),
      );
      const available = new Set((await client.query<{ name: string }>('SELECT name FROM pg_available_extensions')).rows.map((r) => r.name));
      for (const m of migrations) {
        const recorded = done.get(m.name);
        if (recorded !== undefined) {
          if (recorded !== m.checksum) {
            throw new StoreError(`the migration ${m.name} applied to this database differs from the one in prisma/postgres: this database was made by another version of vidsearch`, {
              cause: { migration: m.name },
            });
          }
          continue;
        }
        if (m.requires && !available.has(m.requires)) {
          result.skipped.push({ name: m.name, extension: m.requires });
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query(
            'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ($1, $2, now(), $3, now(), 1)',
            [crypto.randomUUID(), m.checksum, m.name],
          );
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw new StoreError(`cannot apply the migration ${m.name}: ${errorMessage(err)}`, { cause: { migration: m.name } });
        }
        result.applied.push(m.name);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    }
  } finally {
    client.release();
  }
  return result;
}
