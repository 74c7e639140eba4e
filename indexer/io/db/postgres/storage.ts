// The PostgreSQL storage backend: the repositories of core/storage.ts over one pg pool
// (connection.ts), with pgvector as the segment search (search.ts). openPgStorage migrates the
// database and fills the ANN column of rows written before pgvector was installed.
import type { Storage } from '../../../core/storage';
import { PgConnection } from './connection';
import { PgVectorSearch } from './search';
import { PgSegments } from './segments';
import { PgIdentity, PgIndexSource, PgSettings } from './settings';
import { PgTags } from './tags';
import { PgVideos } from './videos';

export class PgStorage implements Storage {
  readonly videos: PgVideos;
  readonly segments: PgSegments;
  readonly tags: PgTags;
  readonly settings: PgSettings;
  readonly identity: PgIdentity;
  readonly index: PgIndexSource;
  readonly ann: PgVectorSearch;

  constructor(readonly connection: PgConnection) {
    this.videos = new PgVideos(connection);
    this.segments = new PgSegments(connection);
    this.tags = new PgTags(connection);
    this.settings = new PgSettings(connection);
    this.identity = new PgIdentity(connection);
    this.index = new PgIndexSource(connection);
    this.ann = new PgVectorSearch(connection);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

export async function openPgStorage(url: string, opts: { poolSize?: number } = {}): Promise<PgStorage> {
  const storage = new PgStorage(await PgConnection.open(url, opts));
  try {
    await storage.ann.fillEmbeddings();
  } catch (err) {
    await storage.close();
    throw err;
  }
  return storage;
}
