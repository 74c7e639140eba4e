// Settings, the identity record and what the HNSW sync reads, on SQLite: all three live in or next
// to the Setting table (key "identity", key "generation") and the Segment ids (DIGEST_SQL).
import { vectorFrom } from '../../../core/vectors';
import type { IdentityRepository, IndexSource, SettingRepository, StoreIdentity } from '../../../core/storage';
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
}

export class SqliteIdentity implements IdentityRepository {
  constructor(private readonly c: SqliteConnection) {}

  async read(): Promise<string | undefined> {
    return (await this.c.db.setting.findUnique({ where: { key: 'identity' } }))?.value;
  }

  async claim(identity: StoreIdentity): Promise<void> {
    await this.c.db.setting.create({ data: { key: 'identity', value: JSON.stringify(identity) } });
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
    const row = await this.c.db.setting.findUnique({ where: { key: 'generation' } });
    return row ? Number(row.value) : 0;
  }

  async segmentCount(): Promise<number> {
    return this.c.db.segment.count();
  }

  async eachVector(dim: number, batch: (rows: Array<{ id: number; vector: Float32Array }>) => void): Promise<void> {
    let cursor = 0;
    for (;;) {
      const rows = await this.c.db.segment.findMany({ where: { id: { gt: cursor } }, orderBy: { id: 'asc' }, take: 2000, select: { id: true, vector: true } });
      if (rows.length === 0) break;
      batch(rows.map((r) => ({ id: r.id, vector: vectorFrom(r.vector, dim, { table: 'Segment', row: r.id }) })));
      cursor = rows[rows.length - 1].id;
    }
  }
}
