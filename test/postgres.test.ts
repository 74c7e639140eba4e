// The PostgreSQL migrator: pgvector's step applied where the extension exists and skipped where it
// does not, checksums recorded as Prisma does, and many processes starting at once apply each
// migration once (on a real server, where connections are really concurrent).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migratePostgres, pgMigrations } from '../indexer/io/db/postgres/migrate';
import { PgConnection } from '../indexer/io/db/postgres/connection';
import { startPglite, startRealPostgres, type TestPostgres } from './postgres';

describe('PostgreSQL migrations on PGlite with pgvector', () => {
  let server: TestPostgres;
  before(async () => {
    server = await startPglite();
  });
  after(() => server?.stop());

  test('every migration applies, pgvector included, and a second open applies nothing', async () => {
    const first = await PgConnection.open(server.url, { poolSize: 2 });
    try {
      assert.deepEqual(first.migrations.applied, pgMigrations().map((m) => m.name));
      assert.deepEqual(first.migrations.skipped, []);
      assert.equal(first.hasVector, true);
      const rows = (await first.query<{ migration_name: string; checksum: string }>('SELECT migration_name, checksum FROM "_prisma_migrations" ORDER BY migration_name')).rows;
      assert.deepEqual(rows.map((r) => [r.migration_name, r.checksum]), pgMigrations().map((m) => [m.name, m.checksum]));
      const col = await first.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'Segment' AND column_name = 'embedding'`);
      assert.equal(col.rowCount, 1);
    } finally {
      await first.close();
    }
    const again = await PgConnection.open(server.url, { poolSize: 2 });
    try {
      assert.deepEqual(again.migrations.applied, []);
    } finally {
      await again.close();
    }
  });
});

describe('PostgreSQL migrations on a real server without pgvector', () => {
  let server: TestPostgres;
  before(async () => {
    server = await startRealPostgres();
  });
  after(() => server?.stop());

  test('six processes opening at once apply each migration once; the pgvector step is skipped, not recorded', async () => {
    const pools = Array.from({ length: 6 }, () => new pg.Pool({ connectionString: server.url, max: 2 }));
    try {
      const results = await Promise.all(pools.map((p) => migratePostgres(p)));
      const applied = results.flatMap((r) => r.applied).sort();
      const expected = pgMigrations().filter((m) => !m.requires).map((m) => m.name).sort();
      assert.deepEqual(applied, expected, 'each migration applied by exactly one of the processes');
      const needVector = pgMigrations().filter((m) => m.requires === 'vector').map((m) => m.name);
      for (const r of results) assert.deepEqual(r.skipped, needVector.map((name) => ({ name, extension: 'vector' })));
      const recorded = (await pools[0]!.query('SELECT migration_name FROM "_prisma_migrations"')).rows.map((r) => r.migration_name).sort();
      assert.deepEqual(recorded, expected);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  test('a migration changed after it was applied is refused by name', async () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 1 });
    try {
      await pool.query(`UPDATE "_prisma_migrations" SET checksum = 'x' WHERE migration_name = $1`, [pgMigrations()[0]!.name]);
      await assert.rejects(migratePostgres(pool), (err: Error) => err.name === 'StoreError' && err.message.includes(pgMigrations()[0]!.name));
    } finally {
      await pool.end();
    }
  });
});
