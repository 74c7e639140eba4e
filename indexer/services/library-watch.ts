// Watching the libraries (rows, io/db/libraries.ts) and turning what happens in them into jobs:
// this only enqueues, any worker does the work. A file is queued once it has stopped changing (a
// copy or download in progress is not indexed half-way); a removal waits a moment so that a
// rename's new name is seen first. The library list is read again every few seconds, so a folder
// added, removed or paused from the web app or the CLI is followed without a restart.
import fs from 'node:fs';
import { sameStamp, type FileStamp } from '../core/stamps';
import { errorMessage } from '../core/errors';
import { toLocalPath, toStoredPath, type PathMapping } from '../core/paths';
import type { JobRepository, LibraryRecord, LibraryRepository } from '../core/storage';
import type { Store } from '../io/db/store';
import { watchLibrary, type LibraryWatcher, type WatchEvent } from '../io/files/watcher';

export interface LibraryWatchOptions {
  /** a file must stop changing for this long before it is queued */
  stabilityMs?: number;
  /** a removal waits this long, so that a rename's new name is seen first */
  removeGraceMs?: number;
  /** how often the library list is read again */
  refreshMs?: number;
  log?: (entry: { event: string; path?: string; [key: string]: unknown }) => void;
  /** VIDSEARCH_PATH_MAP: the libraries' folders are watched where this machine mounts them, and queued by their database paths */
  pathMap?: readonly PathMapping[];
}

/**
 * Resolves true once `file`'s size and mtime have held for `windowMs` (a copy or download in
 * progress is not indexed half-way); false if it goes or `stopped()` turns true. Polls only while
 * a file is waiting. The watch daemon uses it too.
 */
export async function waitStable(file: string, windowMs: number, stopped: () => boolean): Promise<boolean> {
  const step = Math.max(50, Math.min(500, windowMs / 4));
  let last: FileStamp | undefined;
  let since = Date.now();
  for (;;) {
    if (stopped()) return false;
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st) return false;
    // Not rounded (stampOf): any change at all restarts the window.
    const now: FileStamp = { size: st.size, mtimeMs: st.mtimeMs };
    if (!sameStamp(now, last)) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= windowMs) {
      return true;
    }
    await new Promise((r) => setTimeout(r, step));
  }
}

export class LibraryWatch {
  private readonly watchers = new Map<number, { lib: LibraryRecord; watcher: LibraryWatcher }>();
  private readonly waiting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly stabilityMs: number;
  private readonly removeGraceMs: number;
  private readonly log: NonNullable<LibraryWatchOptions['log']>;

  constructor(
    private readonly ctx: { libraries: LibraryRepository; queue: JobRepository; store: Pick<Store, 'videosUnder'> },
    private readonly opts: LibraryWatchOptions = {},
  ) {
    this.stabilityMs = opts.stabilityMs ?? 2000;
    this.removeGraceMs = opts.removeGraceMs ?? 1000;
    this.log = opts.log ?? (() => {});
  }

  /** Watches every library that asks for it and queues a scan of each (what changed while nothing watched). */
  async start(): Promise<void> {
    await this.refresh(true);
    // A database that is briefly unreachable (a server restart) is said and tried again next time.
    this.timer = setInterval(() => void this.refresh(false).catch((err) => this.log({ event: 'watch-error', error: errorMessage(err) })), this.opts.refreshMs ?? 2000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.watchers.values()].map((w) => w.watcher.close()));
    this.watchers.clear();
  }

  get watched(): string[] {
    return [...this.watchers.values()].map((w) => w.lib.path);
  }

  private async refresh(first: boolean): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map((await this.ctx.libraries.list()).filter((l) => l.watch).map((l) => [l.id, l]));
    for (const [id, w] of this.watchers) {
      const now = wanted.get(id);
      if (!now || now.mode !== w.lib.mode) {
        this.watchers.delete(id);
        await w.watcher.close();
        this.log({ event: 'unwatched', path: w.lib.path });
      }
    }
    for (const [id, lib] of wanted) {
      if (this.watchers.has(id)) continue;
      // Watch first, then scan, so that nothing that happens during the scan is missed.
      const watcher = watchLibrary([toLocalPath(lib.path, this.opts.pathMap ?? [])], (e) => this.onEvent(lib, e), { poll: lib.mode === 'poll' });
      this.watchers.set(id, { lib, watcher });
      await watcher.ready;
      this.log({ event: 'watching', path: lib.path, mode: lib.mode });
      // A library seen for the first time by this process: what changed while nothing watched.
      if (first || !lib.lastScanAt) await this.ctx.queue.enqueue([{ kind: 'scan', key: lib.path, libraryId: lib.id }]);
    }
  }

  private onEvent(lib: LibraryRecord, e: WatchEvent): void {
    if (this.stopped) return;
    if (e.type === 'error') return this.log({ event: 'watch-error', path: lib.path, error: e.error.message });
    if (e.type === 'odd-name') return this.log({ event: 'bad-name', path: e.dir, error: 'a file name here is not UTF-8: rename it to index it' });
    if (e.type === 'add' || e.type === 'change') return void this.whenStable(lib, e.path);
    if (e.type === 'unlink') return void this.later(() => this.enqueue(lib, 'remove', e.path), this.removeGraceMs);
    if (e.type === 'unlinkDir') {
      const map = this.opts.pathMap ?? [];
      void this.ctx.store.videosUnder(toStoredPath(e.path, map)).then((videos) => this.later(() => videos.forEach((v) => this.enqueue(lib, 'remove', toLocalPath(v.path, map))), this.removeGraceMs));
    }
  }

  private async whenStable(lib: LibraryRecord, file: string): Promise<void> {
    // One wait per file, however many writes a copy makes.
    if (this.waiting.has(file)) return;
    this.waiting.add(file);
    try {
      if (await waitStable(file, this.stabilityMs, () => this.stopped)) this.enqueue(lib, 'index', file);
    } finally {
      this.waiting.delete(file);
    }
  }

  private later(fn: () => void, ms: number): void {
    setTimeout(() => !this.stopped && fn(), ms).unref();
  }

  /** `file`: this machine's path (what the watcher saw); the job names the database's. */
  private enqueue(lib: LibraryRecord, kind: 'index' | 'remove', file: string): void {
    if (kind === 'remove' && fs.existsSync(file)) return; // back already (a rename in place, an editor's save)
    void Promise.resolve().then(() => this.ctx.queue.enqueue([{ kind, key: toStoredPath(file, this.opts.pathMap ?? []), libraryId: lib.id }])).then(
      () => this.log({ event: 'queued', path: file, kind }),
      (err) => this.log({ event: 'watch-error', path: file, error: `cannot queue it: ${errorMessage(err)}` }),
    );
  }
}
