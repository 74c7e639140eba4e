// Settings, the identity record and the IndexSource on PostgreSQL (the SQLite ones:
// sqlite/settings.ts). The Setting table holds the identity and the generation as in SQLite. There
// is no change log: pgvector is the index, read by every process straight from the table, so no
// HNSW file follows this source (core/storage.ts IndexSource says what its methods mean here).
import { vectorFrom } from '../../../core/vectors';
import type { IdentityRepository, IndexSource, SegmentChanges, SettingRepository, StoreIdentity } from '../../../core/storage';
import { DIGEST_SQL, digestOfRow } from '../../ann/ann';
import type { PgConnection } from './connection';
import { bumpGeneration, upsertIdentity, type Queryable } from './tx';

// The one segment-id digest (ann.ts DIGEST_SQL), with the ids widened: Postgres' integer product overflows.
const PG_DIGEST_SQL = DIGEST_SQL.replaceAll('"id"', '"id"::bigint');

async function setting(q: Queryable, key: string): Promise<string | undefined> {
  return (await q.query<{ value: string }>('SELECT "value" FROM "Setting" WHERE "key" = $1', [key])).rows[0]?.value;
}

export class PgSettings implements SettingRepository {
  constructor(private readonly c: PgConnection) {}

  get(key: string): Promise<string | undefined> {
    return setting(this.c, key);
  }

  async set(key: string, value: string): Promise<void> {
    await this.c.query('INSERT INTO "Setting" ("key", "value") VALUES ($1, $2) ON CONFLICT ("key") DO UPDATE SET "value" = EXCLUDED."value"', [key, value]);
  }

  async libraryFolders(): Promise<string[]> {
    return (await this.c.query<{ path: string }>('SELECT "path" FROM "Library"')).rows.map((r) => r.path);
  }
}

export class PgIdentity implements IdentityRepository {
  constructor(private readonly c: PgConnection) {}

  read(): Promise<string | undefined> {
    return setting(this.c, 'identity');
  }

  /** Records the identity unless another process recorded one first (the caller reads back which). */
  async claim(identity: StoreIdentity): Promise<void> {
    await this.c.query(`INSERT INTO "Setting" ("key", "value") VALUES ('identity', $1) ON CONFLICT ("key") DO NOTHING`, [JSON.stringify(identity)]);
  }

  async reset(identity: StoreIdentity): Promise<void> {
    await this.c.transaction(async (tx) => {
      // Row deletes, not TRUNCATE: TRUNCATE's exclusive lock would wait for every open reader.
      await tx.query('DELETE FROM "Tag"');
      await tx.query('DELETE FROM "Frame"');
      await tx.query('DELETE FROM "Segment"');
      await tx.query('DELETE FROM "Video"');
      await upsertIdentity(tx, JSON.stringify(identity));
      await bumpGeneration(tx);
    });
  }
}

export class PgIndexSource implements IndexSource {
  constructor(private readonly c: PgConnection) {}

  async digest(): Promise<string> {
    const r = await this.c.pool.query({ text: PG_DIGEST_SQL, rowMode: 'array' });
    return digestOfRow(r.rows[0] as unknown[]);
  }

  async generation(): Promise<number> {
    return Number((await setting(this.c, 'generation')) ?? 0);
  }

  async segmentCount(): Promise<number> {
    return Number((await this.c.query<{ n: string }>('SELECT count(*) AS n FROM "Segment"')).rows[0]!.n);
  }

  /** In one REPEATABLE READ snapshot, by id ranges; returns the generation of that snapshot. */
  async eachVector(dim: number, batch: (rows: Array<{ id: number; vector: Float32Array }>) => void): Promise<number> {
    return this.c.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const generation = Number((await setting(tx, 'generation')) ?? 0);
      for (let after = 0; ; ) {
        const rows = (await tx.query<{ id: number; vector: Buffer }>('SELECT "id", "vector" FROM "Segment" WHERE "id" > $1 ORDER BY "id" LIMIT 2000', [after])).rows;
        if (!rows.length) break;
        batch(rows.map((r) => ({ id: r.id, vector: vectorFrom(r.vector, dim, { table: 'Segment', row: r.id }) })));
        after = rows.at(-1)!.id;
      }
      return generation;
    });
  }

  /** No change log: the generation, which every write that changes segments bumps. */
  lastChange(): Promise<number> {
    return this.generation();
  }

  async changesSince(since: number, _dim: number, withDigest = false): Promise<SegmentChanges> {
    const last = await this.generation();
    const digest = withDigest ? await this.digest() : undefined;
    return { last, gap: since !== last, removed: [], added: [], updated: [], digest };
  }

  async pruneChanges(): Promise<void> {
    // nothing kept to prune
  }
}
