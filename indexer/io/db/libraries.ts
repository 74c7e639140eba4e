// The libraries in SQLite: the folders the user asked vidsearch to follow, as rows, so that the
// server, a CLI and every worker see the same list. Plain better-sqlite3, like the job queue.
import Database from 'better-sqlite3';
import { StoreError, asDiskFull, errorMessage } from '../../core/errors';
import type { VideoStatus } from '../../core/types';
import { pathRange } from '../../core/paths';
import type { LibraryCounts, LibraryRecord, LibraryRepository, WatchMode } from '../../core/storage';

const BUSY_TIMEOUT_MS = 15_000;

export type { LibraryCounts, LibraryRecord, WatchMode };

interface Row {
  id: number;
  path: string;
  watch: number;
  mode: string;
  createdAt: string | number;
  lastScanAt: string | number | null;
}

// Prisma stores DateTime in SQLite as ms since the epoch (or ISO text from CURRENT_TIMESTAMP).
const date = (v: string | number): Date => (typeof v === 'number' ? new Date(v) : new Date(v.includes('T') ? v : `${v.replace(' ', 'T')}Z`));
const toLibrary = (r: Row): LibraryRecord => ({ id: r.id, path: r.path, watch: !!r.watch, mode: r.mode === 'poll' ? 'poll' : 'inotify', createdAt: date(r.createdAt), lastScanAt: r.lastScanAt === null ? null : date(r.lastScanAt) });

export class SqliteLibraryRepository implements LibraryRepository {
  private constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {}

  static open(file: string): SqliteLibraryRepository {
    try {
      return new SqliteLibraryRepository(new Database(file, { timeout: BUSY_TIMEOUT_MS, fileMustExist: true }), file);
    } catch (err) {
      throw new StoreError(`cannot open the libraries in ${file}: ${errorMessage(err)}`, { cause: { file } });
    }
  }

  close(): void {
    this.db.close();
  }

  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw asDiskFull(err, this.file) ?? err;
    }
  }

  list(): LibraryRecord[] {
    return (this.db.prepare(`SELECT * FROM "Library" ORDER BY "path"`).all() as Row[]).map(toLibrary);
  }

  get(id: number): LibraryRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM "Library" WHERE "id" = ?`).get(id) as Row | undefined;
    return r && toLibrary(r);
  }

  byPath(path: string): LibraryRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM "Library" WHERE "path" = ?`).get(path) as Row | undefined;
    return r && toLibrary(r);
  }

  /** Adds a library (the path is a real path, checked by the caller); the existing row when it is there already. */
  add(path: string, opts: { watch?: boolean; mode?: WatchMode } = {}): { library: LibraryRecord; created: boolean } {
    return this.run(() => {
      const r = this.db
        .prepare(`INSERT INTO "Library" ("path", "watch", "mode", "createdAt") VALUES (?, ?, ?, ?) ON CONFLICT ("path") DO NOTHING RETURNING *`)
        .get(path, opts.watch === false ? 0 : 1, opts.mode ?? 'inotify', Date.now()) as Row | undefined;
      return r ? { library: toLibrary(r), created: true } : { library: this.byPath(path)!, created: false };
    });
  }

  update(id: number, changes: { watch?: boolean; mode?: WatchMode }): LibraryRecord | undefined {
    this.run(() => {
      if (changes.watch !== undefined) this.db.prepare(`UPDATE "Library" SET "watch" = ? WHERE "id" = ?`).run(changes.watch ? 1 : 0, id);
      if (changes.mode !== undefined) this.db.prepare(`UPDATE "Library" SET "mode" = ? WHERE "id" = ?`).run(changes.mode, id);
    });
    return this.get(id);
  }

  scanned(id: number, at = Date.now()): void {
    this.run(() => this.db.prepare(`UPDATE "Library" SET "lastScanAt" = ? WHERE "id" = ?`).run(at, id));
  }

  remove(id: number): boolean {
    return this.run(() => this.db.prepare(`DELETE FROM "Library" WHERE "id" = ?`).run(id).changes === 1);
  }

  /** What a library holds: its videos by status and its jobs, in two indexed range queries. */
  counts(lib: LibraryRecord): LibraryCounts {
    const [from, to] = pathRange(lib.path);
    const videos = { pending: 0, indexed: 0, failed: 0, total: 0 } as LibraryCounts['videos'];
    for (const r of this.db.prepare(`SELECT "status", count(*) AS n FROM "Video" WHERE ("path" >= ? AND "path" < ?) OR "path" = ? GROUP BY "status"`).all(from, to, lib.path) as Array<{ status: VideoStatus; n: number }>) {
      videos[r.status] = r.n;
      videos.total += r.n;
    }
    const jobs = { queued: 0, running: 0, failed: 0 };
    for (const r of this.db.prepare(`SELECT "state", count(*) AS n FROM "Job" WHERE "libraryId" = ? AND "state" IN ('queued', 'running', 'failed') GROUP BY "state"`).all(lib.id) as Array<{ state: keyof typeof jobs; n: number }>) {
      jobs[r.state] = r.n;
    }
    return { videos, queued: jobs.queued, running: jobs.running, failedJobs: jobs.failed };
  }
}
