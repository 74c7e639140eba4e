// The libraries in PostgreSQL: the SQLite repository's rows (io/db/libraries.ts) on the shared
// server, so that every web server and worker machine sees the same folders.
import { pathRange } from '../../../core/paths';
import type { LibraryCounts, LibraryRecord, LibraryRepository, WatchMode } from '../../../core/storage';
import type { VideoStatus } from '../../../core/types';
import type { PgConnection } from './connection';

interface Row {
  id: number;
  path: string;
  watch: boolean;
  mode: string;
  createdAt: Date;
  lastScanAt: Date | null;
}

const toLibrary = (r: Row): LibraryRecord => ({ id: r.id, path: r.path, watch: r.watch, mode: r.mode === 'poll' ? 'poll' : 'inotify', createdAt: r.createdAt, lastScanAt: r.lastScanAt });

export class PgLibraryRepository implements LibraryRepository {
  /** `db`: an open connection (migrated); its opener closes it. */
  constructor(private readonly db: PgConnection) {}

  close(): void {}

  async list(): Promise<LibraryRecord[]> {
    // Byte order, as SQLite sorts: the same list on every store.
    return (await this.db.query<Row>(`SELECT * FROM "Library" ORDER BY "path" COLLATE "C"`)).rows.map(toLibrary);
  }

  async get(id: number): Promise<LibraryRecord | undefined> {
    const r = (await this.db.query<Row>(`SELECT * FROM "Library" WHERE "id" = $1`, [id])).rows[0];
    return r && toLibrary(r);
  }

  async byPath(path: string): Promise<LibraryRecord | undefined> {
    const r = (await this.db.query<Row>(`SELECT * FROM "Library" WHERE "path" = $1`, [path])).rows[0];
    return r && toLibrary(r);
  }

  async add(path: string, opts: { watch?: boolean; mode?: WatchMode } = {}): Promise<{ library: LibraryRecord; created: boolean }> {
    const r = (
      await this.db.query<Row>(`INSERT INTO "Library" ("path", "watch", "mode", "createdAt") VALUES ($1, $2, $3, $4) ON CONFLICT ("path") DO NOTHING RETURNING *`, [
        path,
        opts.watch !== false,
        opts.mode ?? 'inotify',
        new Date(),
      ])
    ).rows[0];
    return r ? { library: toLibrary(r), created: true } : { library: (await this.byPath(path))!, created: false };
  }

  async update(id: number, changes: { watch?: boolean; mode?: WatchMode }): Promise<LibraryRecord | undefined> {
    const r = (
      await this.db.query<Row>(`UPDATE "Library" SET "watch" = coalesce($2, "watch"), "mode" = coalesce($3, "mode") WHERE "id" = $1 RETURNING *`, [id, changes.watch ?? null, changes.mode ?? null])
    ).rows[0];
    return r && toLibrary(r);
  }

  async scanned(id: number, at = Date.now()): Promise<void> {
    await this.db.query(`UPDATE "Library" SET "lastScanAt" = $2 WHERE "id" = $1`, [id, new Date(at)]);
  }

  async remove(id: number): Promise<boolean> {
    return (await this.db.query(`DELETE FROM "Library" WHERE "id" = $1`, [id])).rowCount === 1;
  }

  /** What a library holds: its videos by status (paths compared bytewise, core/paths.ts) and its jobs. */
  async counts(lib: LibraryRecord): Promise<LibraryCounts> {
    const [from, to] = pathRange(lib.path);
    const videos = { pending: 0, indexed: 0, failed: 0, total: 0 } as LibraryCounts['videos'];
    const [v, j] = await Promise.all([
      this.db.query<{ status: VideoStatus; n: number }>(
        `SELECT "status", count(*)::int AS n FROM "Video" WHERE ("path" COLLATE "C" >= $1 AND "path" COLLATE "C" < $2) OR "path" = $3 GROUP BY "status"`,
        [from, to, lib.path],
      ),
      this.db.query<{ state: 'queued' | 'running' | 'failed'; n: number }>(
        `SELECT "state", count(*)::int AS n FROM "Job" WHERE "libraryId" = $1 AND "state" IN ('queued', 'running', 'failed') GROUP BY "state"`,
        [lib.id],
      ),
    ]);
    for (const r of v.rows) {
      videos[r.status] = r.n;
      videos.total += r.n;
    }
    const jobs = { queued: 0, running: 0, failed: 0 };
    for (const r of j.rows) jobs[r.state] = r.n;
    return { videos, queued: jobs.queued, running: jobs.running, failedJobs: jobs.failed };
  }
}
