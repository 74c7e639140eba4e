// Libraries: the folders the user asked vidsearch to follow (rows, io/db/libraries.ts), and the
// rules for adding, removing and scanning them. Work is never done here: a scan is a job that any
// worker runs (worker.ts); removing a library removes its videos from the index, never the files.
import fs from 'node:fs';
import path from 'node:path';
import { LibraryError } from '../core/errors';
import { migrate } from '../io/db/db';
import { JobQueue } from '../io/db/jobs';
import { SqliteLibraryRepository } from '../io/db/libraries';
import { PgConnection } from '../io/db/postgres/connection';
import { PgJobQueue } from '../io/db/postgres/jobs';
import { PgLibraryRepository } from '../io/db/postgres/libraries';
import type { JobRepository, LibraryCounts, LibraryRecord, LibraryRepository, WatchMode } from '../core/storage';
import { databaseKind, sqlitePath, type Config } from './config';
import type { Store } from '../io/db/store';
import { insideRoots } from '../io/files/files';

export interface LibraryContext {
  store: Store;
  libraries: LibraryRepository;
  queue: JobRepository;
}

export type LibraryView = LibraryRecord & LibraryCounts;

export async function listLibraries(ctx: Pick<LibraryContext, 'libraries'>): Promise<LibraryView[]> {
  const libs = await ctx.libraries.list();
  return Promise.all(libs.map(async (l) => ({ ...l, ...(await ctx.libraries.counts(l)) })));
}

/** The library by id or by path (as given: resolved and real-pathed). */
export async function findLibrary(ctx: Pick<LibraryContext, 'libraries'>, ref: number | string): Promise<LibraryRecord> {
  const lib = await (typeof ref === 'number' ? ctx.libraries.get(ref) : ctx.libraries.byPath(realOrResolved(ref)));
  if (!lib) throw new LibraryError(`no library ${typeof ref === 'number' ? `with id ${ref}` : `at ${ref}`}: \`vidsearch library list\` shows them`, { kind: 'not-found', cause: { ref } });
  return lib;
}

function realOrResolved(p: string): string {
  try {
    return fs.realpathSync(path.resolve(p));
  } catch {
    return path.resolve(p);
  }
}

/**
 * Adds a folder as a library and queues its first scan. A folder inside another library, or one
 * holding a library, is refused: its files would belong to two libraries.
 */
export async function addLibrary(ctx: Pick<LibraryContext, 'libraries' | 'queue'>, dir: string, opts: { watch?: boolean; mode?: WatchMode } = {}): Promise<{ library: LibraryRecord; created: boolean; scanJob: number }> {
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(dir));
  } catch {
    throw new LibraryError(`no such folder: ${dir}`, { kind: 'not-a-folder', cause: { dir } });
  }
  if (!fs.statSync(real).isDirectory()) throw new LibraryError(`not a folder: ${dir} (a library is a folder of videos)`, { kind: 'not-a-folder', cause: { dir } });
  const existing = await ctx.libraries.byPath(real);
  if (!existing) {
    for (const other of await ctx.libraries.list()) {
      if (insideRoots(real, [other.path])) throw new LibraryError(`${real} is inside the library ${other.path}, which already holds its videos`, { kind: 'nested-library', cause: { dir: real, library: other.path } });
      if (insideRoots(other.path, [real])) throw new LibraryError(`${real} holds the library ${other.path}: remove that one first, or add the folders side by side`, { kind: 'nested-library', cause: { dir: real, library: other.path } });
    }
  }
  const { library, created } = await ctx.libraries.add(real, opts);
  if (!created && (opts.watch !== undefined || opts.mode !== undefined)) await ctx.libraries.update(library.id, opts);
  // Its row makes it a root: its files are ones the server may serve (library.ts).
  const [scanJob] = await ctx.queue.enqueue([{ kind: 'scan', key: real, libraryId: library.id }]);
  return { library: (await ctx.libraries.get(library.id))!, created, scanJob: scanJob! };
}

export async function scanLibrary(ctx: Pick<LibraryContext, 'libraries' | 'queue'>, ref: number | string, opts: { force?: boolean; retryFailed?: boolean } = {}): Promise<number> {
  const lib = await findLibrary(ctx, ref);
  const payload = opts.force || opts.retryFailed ? opts : undefined;
  return (await ctx.queue.enqueue([{ kind: 'scan', key: lib.path, libraryId: lib.id, payload }]))[0]!;
}

export async function setWatching(ctx: Pick<LibraryContext, 'libraries'>, ref: number | string, changes: { watch?: boolean; mode?: WatchMode }): Promise<LibraryRecord> {
  const lib = await findLibrary(ctx, ref);
  return (await ctx.libraries.update(lib.id, changes))!;
}

/**
 * Removes a library: its queued jobs are dropped and its videos leave the index (rows and vectors,
 * by remove jobs any worker runs), and the server stops serving files under it at once (its row
 * was a root). The files themselves are never touched.
 */
export async function removeLibrary(ctx: LibraryContext, ref: number | string): Promise<{ library: LibraryRecord; removedVideos: number }> {
  const lib = await findLibrary(ctx, ref);
  await ctx.libraries.remove(lib.id);
  await ctx.queue.dropQueued(lib.id);
  const videos = await ctx.store.videosUnder(lib.path);
  await ctx.queue.enqueue(videos.map((v) => ({ kind: 'remove' as const, key: v.path, payload: { decided: true } })));
  return { library: lib, removedVideos: videos.length };
}

/** The queue and the libraries of a database, on their own connections (any process may hold them). */
export interface Work {
  queue: JobRepository;
  libraries: LibraryRepository;
  close(): Promise<void>;
}

/** The SQLite file's (migrated here) or the PostgreSQL server's (migrated on connecting), by DATABASE_URL. */
export async function openWork(cfg: Pick<Config, 'databaseUrl'>): Promise<Work> {
  if (databaseKind(cfg.databaseUrl) === 'postgres') {
    const db = await PgConnection.open(cfg.databaseUrl);
    return { queue: new PgJobQueue(db), libraries: new PgLibraryRepository(db), close: () => db.close() };
  }
  const file = sqlitePath(cfg.databaseUrl);
  migrate(file);
  const queue = JobQueue.open(file);
  const libraries = SqliteLibraryRepository.open(file);
  return {
    queue,
    libraries,
    async close() {
      queue.close();
      libraries.close();
    },
  };
}
