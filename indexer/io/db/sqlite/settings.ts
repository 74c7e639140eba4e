// Settings, the identity record and what the HNSW sync reads, on SQLite: all three live in or next
// to the Setting table (key "identity", key "generation") and the Segment ids (DIGEST_SQL).
import { vectorFrom } from '../../../core/vectors';
import type { IdentityRepository, IndexSource, SegmentChanges, SettingRepository, StoreIdentity } from '../../../core/storage';
import { DIGEST_SQL, digestOfRow } from '../../ann/ann';
import { bumpGeneration, upsertIdentity, type SqliteConnection } from './connection';

export class SqliteSettings implements SettingRepository {
  constructor(private readonly c: SqliteConnection) {}

  /** On the reader connection: a reader polls the identity on every refresh. */
  async get(key: string): Promise<string | undefined> {
    const row = this.c.prepared('SELECT "value" FROM "Setting" WHERE "key" = ?').get(key) as [string] | undefined;
    return row?.[0];
  }

  async set(key: string, value: string): Promise<void> {
    await this.c.db.setting.upsert({ where: { key }, create: { key, value }, update: { value } });
  }

  async libraryFolders(): Promise<string[]> {
    return (this.c.prepared('SELECT "path" FROM "Library"').all() as Array<[string]>).map((r) => r[0]);
  }
}

export class SqliteIdentity implements IdentityRepository {
  constructor(private readonly c: SqliteConnection) {}

  // On the reader connection, as every read a search makes: a Prisma query compiles its plan on
  // first use, which a one-query CLI search paid at each start (npm run bench -- --only=cli).
  async read(): Promise<string | undefined> {
    return (this.c.prepared(`SELECT "value" FROM "Setting" WHERE "key" = 'identity'`).get() as [string] | undefined)?.[0];
  }

  /** Records the identity unless another process recorded one first (the caller reads back which). */
  async claim(identity: StoreIdentity): Promise<void> {
    await this.c.db.$executeRawUnsafe(`INSERT INTO "Setting" ("key", "value") VALUES ('identity', ?) ON CONFLICT ("key") DO NOTHING`, JSON.stringify(identity));
  }

  async reset(identity: StoreIdentity): Promise<void> {
    await this.c.db.$transaction(async (tx) => {
      await tx.tag.deleteMany({});
      await tx.frame.deleteMany({});
      await tx.segment.deleteMany({});
      await tx.video.deleteMany({});
      await upsertIdentity(tx, JSON.stringify(identity));
      await bumpGeneration(tx);
    });
  }
}

export class SqliteIndexSource implements IndexSource {
  constructor(private readonly c: SqliteConnection) {}

  /**
   * On the Prisma-free connection. One pass over the covering (videoId, idx) index: 28-35 ms at
   * 100,000 segments (measured with a scratch script, bench/_digest.ts: 100,000 rows of 2 KB
   * vectors and 5.5 KB packs, an 822 MB database, page-cached, this 2-core machine), so it runs at
   * open, at each publish and in stats/doctor, never per search.
   */
  async digest(): Promise<string> {
    return this.digestNow();
  }

  digestNow(): string {
    return digestOfRow(this.c.prepared(DIGEST_SQL).get() as unknown[]);
  }

  async generation(): Promise<number> {
    const row = this.c.prepared(`SELECT "value" FROM "Setting" WHERE "key" = 'generation'`).get() as [string] | undefined;
    return row ? Number(row[0]) : 0;
  }

  async segmentCount(): Promise<number> {
    return Number((this.c.prepared('SELECT count(*) FROM "Segment"').get() as [number])[0]);
  }

  // The change log is read on the read-only connection inside one transaction, so the sequence
  // number, the rows and the digest are of one snapshot however many writers commit meanwhile.

  async eachVector(dim: number, batch: (rows: Array<{ id: number; vector: Float32Array }>) => void): Promise<number> {
    const r = this.c.readConnection;
    return r.transaction(() => {
      const last = this.lastNow();
      let rows: Array<{ id: number; vector: Float32Array }> = [];
      for (const row of r.prepare('SELECT "id", "vector" FROM "Segment" ORDER BY "id"').raw().iterate() as IterableIterator<[number, Uint8Array]>) {
        rows.push({ id: row[0], vector: vectorFrom(row[1], dim, { table: 'Segment', row: row[0] }) });
        if (rows.length === 2000) {
          batch(rows);
          rows = [];
        }
      }
      if (rows.length) batch(rows);
      return last;
    })();
  }

  private lastNow(): number {
    return Number((this.c.prepared('SELECT coalesce(max("seq"), 0) FROM "SegmentChange"').get() as [number])[0]);
  }

  async lastChange(): Promise<number> {
    return this.lastNow();
  }

  async changesSince(since: number, dim: number, withDigest = false): Promise<SegmentChanges> {
    const r = this.c.readConnection;
    return r.transaction(() => {
      const last = this.lastNow();
      const pruned = Number((this.c.prepared(`SELECT "value" FROM "Setting" WHERE "key" = 'changesPrunedThrough'`).get() as [string] | undefined)?.[0] ?? 0);
      const digest = withDigest ? this.digestNow() : undefined;
      if (since < pruned) return { last, gap: true, removed: [], added: [], updated: [], digest };
      const state = new Map<number, 'add' | 'remove' | 'update'>();
      if (last > since) {
        for (const [id, op] of this.c.prepared('SELECT "segmentId", "op" FROM "SegmentChange" WHERE "seq" > ? AND "seq" <= ? ORDER BY "seq"').iterate(since, last) as IterableIterator<[number, number]>) {
          const now = state.get(id);
          if (op === 1) state.set(id, 'add');
          // Segment ids are never reused: added and removed after `since` means never seen.
          else if (op === -1) now === 'add' ? state.delete(id) : state.set(id, 'remove');
          else if (now !== 'add') state.set(id, 'update');
        }
      }
      const wanted = [...state].filter(([, s]) => s !== 'remove').map(([id]) => id);
      const vectors = new Map(
        (this.c.readById('SELECT "id", "vector" FROM "Segment" WHERE "id" IN (SELECT value FROM json_each(?))', wanted) as Array<[number, Uint8Array]>).map(([id, v]) => [id, vectorFrom(v, dim, { table: 'Segment', row: id })]),
      );
      const of = (kind: 'add' | 'update') => [...state].filter(([id, s]) => s === kind && vectors.has(id)).map(([id]) => ({ id, vector: vectors.get(id)! }));
      return { last, gap: false, removed: [...state].filter(([, s]) => s === 'remove').map(([id]) => id), added: of('add'), updated: of('update'), digest };
    })();
  }

  async pruneChanges(through: number): Promise<void> {
    await this.c.db.$transaction([
      this.c.db.$executeRawUnsafe(`DELETE FROM "SegmentChange" WHERE "seq" <= ?`, through),
      this.c.db.$executeRawUnsafe(
        `INSERT INTO "Setting" ("key", "value") VALUES ('changesPrunedThrough', ?) ON CONFLICT("key") DO UPDATE SET "value" = max(CAST("value" AS INTEGER), CAST(excluded."value" AS INTEGER))`,
        String(through),
      ),
    ]);
  }
}
