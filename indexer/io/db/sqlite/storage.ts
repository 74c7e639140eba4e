// The SQLite storage backend: the repositories of core/storage.ts over one database file (Prisma
// plus a Prisma-free reader, connection.ts). openSqliteStorage migrates the file on open.
import type { Storage } from '../../../core/storage';
import { SqliteConnection } from './connection';
import { SqliteSegments } from './segments';
import { SqliteIdentity, SqliteIndexSource, SqliteSettings } from './settings';
import { SqliteTags } from './tags';
import { SqliteVideos } from './videos';

export class SqliteStorage implements Storage {
  readonly videos: SqliteVideos;
  readonly segments: SqliteSegments;
  readonly tags: SqliteTags;
  readonly settings: SqliteSettings;
  readonly identity: SqliteIdentity;
  readonly index: SqliteIndexSource;

  constructor(private readonly connection: SqliteConnection) {
    this.videos = new SqliteVideos(connection);
    this.segments = new SqliteSegments(connection);
    this.tags = new SqliteTags(connection);
    this.settings = new SqliteSettings(connection);
    this.identity = new SqliteIdentity(connection);
    this.index = new SqliteIndexSource(connection);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

export async function openSqliteStorage(databaseUrl: string): Promise<SqliteStorage> {
  return new SqliteStorage(await SqliteConnection.open(databaseUrl));
}
