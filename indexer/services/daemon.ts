// The watch daemon: keeps the index of some folders current. The watcher only enqueues; one queue
// with bounded concurrency does the work; every job ends indexed / skipped / failed, and only
// transient failures are retried (with backoff). A status file tells `stats` and the web app what
// the daemon is doing (its shape, reading it and the log lines: daemon-status.ts).
// Over 300 lines: one class, the queue's state machine (enqueue, stability wait, retries, removals
// after a grace period, status); its parts share the queue and the stopping flag, so they stay together.
import { WATCH_LOCK, acquireWriterLock, type WriterLock } from '../io/files/lock';
import { waitStable } from './library-watch';
import fs from 'node:fs';
import { asDiskFull, errorMessage, isTransientError } from '../core/errors';
import { badNamesIn, presence } from '../io/files/files';
import { recordLibraryRoots } from './library';
import { CHANGED_WHILE_INDEXING, indexFile, planTargets, type Engine, type JobResult } from './pipeline';
import { watchLibrary, type LibraryWatcher, type WatchEvent } from '../io/files/watcher';
import { mayRetry, retryDelayMs } from '../core/retry';
import { resolveDaemonSettings, type DaemonSettings } from './config';
import { statusFile, type DaemonStatus, type LogEntry } from './daemon-status';

export { lineLogger, readDaemonStatus, statusFile, type DaemonStatus, type LogEntry } from './daemon-status';

export interface DaemonOptions {
  dirs: string[];
  /** poll instead of inotify (network file systems) */
  poll?: boolean;
  /** a file must stop changing for this long before it is indexed */
  stabilityMs?: number;
  /** videos indexed at once (inference is CPU-bound: 1, with batches inside) */
  concurrency?: number;
  /** attempts for a transient failure before it is left as failed */
  maxAttempts?: number;
  retryBaseMs?: number;
  /** a removal waits this long, so that a rename's new name is seen first */
  removeGraceMs?: number;
  log?: (entry: LogEntry) => void;
}

export type Settings = DaemonSettings;

/** The options, validated, with their defaults (services/config.ts resolveDaemonSettings). */
export function daemonSettings(opts: DaemonOptions): Settings {
  return resolveDaemonSettings(opts);
}

interface Job {
  path: string;
  kind: 'index' | 'remove';
  attempts: number;
  notBefore: number;
}

export class WatchDaemon {
  readonly settings: Settings;
  private readonly queue = new Map<string, Job>();
  private readonly running = new Map<string, { kind: Job['kind']; done: Promise<void> }>();
  private readonly controller = new AbortController();
  private readonly failures: DaemonStatus['recentFailures'] = [];
  private watcher: LibraryWatcher | undefined;
  private lock: WriterLock | undefined;
  private state: DaemonStatus['state'] = 'starting';
  private readonly startedAt = new Date().toISOString();
  private indexedCount = 0;
  /**
   * Wakes the loop. Sticky: a wake that comes while the loop is busy (publishing the index, which
   * awaits the database) is kept for its next sleep, or a stop or a new event could be lost and
   * the loop sleep forever.
   */
  private wake: () => void = () => {
    this.woken = true;
  };
  private woken = false;
  private loopDone: Promise<void> | undefined;
  private lastStatusWrite = 0;

  constructor(
    private readonly engine: Engine,
    opts: DaemonOptions,
  ) {
    this.settings = daemonSettings(opts);
    this.log = opts.log ?? (() => {});
  }

  private readonly log: (entry: LogEntry) => void;

  get stopping(): boolean {
    return this.controller.signal.aborted;
  }

  /** Starts watching, reconciles every folder with the index, then works through the queue. */
  async start(): Promise<void> {
    const { dirs } = this.settings;
    for (const dir of dirs) {
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`not a folder: ${dir}`);
    }
    // One watch daemon per data directory: two would index every file twice. (Indexing itself
    // takes no lock: see io/files/lock.ts.)
    this.lock = acquireWriterLock(this.engine.cfg.home, process.argv.slice(2).join(' '), WATCH_LOCK);
    this.log({ event: 'start', dirs, pid: process.pid });
    // The watched folders are library roots: the server serves files inside them only.
    await recordLibraryRoots(this.engine.store, dirs);
    // Watch first, so that nothing that happens during the reconcile is missed.
    this.watcher = watchLibrary(dirs, (e) => this.onEvent(e), { poll: this.settings.poll });
    await this.watcher.ready;
    this.setState('reconciling');
    const started = Date.now();
    const plan = await planTargets(this.engine.store, dirs);
    await this.engine.store.markPendingMany(plan.work);
    for (const { path: file } of plan.work) this.enqueue(file, 'index');
    for (const v of plan.gone) this.enqueue(v.path, 'remove');
    // Unreadable folders and names that are not UTF-8: said once each, and left as they are.
    for (const p of plan.problems) this.log({ event: p.kind, path: p.path, error: p.error });
    this.log({ event: 'reconciled', unchanged: plan.unchanged.length, queued: plan.work.length, gone: plan.gone.length, problems: plan.problems.length, ms: Date.now() - started });
    this.loopDone = this.loop();
  }

  /** Stops taking work, abandons the video in progress (nothing half-written), publishes the index. */
  async stop(): Promise<void> {
    if (this.stopping) return this.loopDone;
    this.log({ event: 'stopping', queued: this.queue.size, current: [...this.running.keys()] });
    this.setState('stopping');
    this.controller.abort();
    this.wake();
    await this.watcher?.close();
    await this.loopDone;
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    await this.engine.store.flushIndex();
    this.setState('stopped');
    this.lock?.release();
    this.log({ event: 'stopped' });
  }

  /** Resolves once the queue is empty and nothing is running (for tests and scripts). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.size > 0 || this.running.size > 0 || this.state !== 'idle') {
      if (Date.now() > deadline) throw new Error(`daemon not idle after ${timeoutMs} ms (${this.queue.size} queued, ${this.running.size} running)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  status(): DaemonStatus {
    return {
      pid: process.pid,
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      state: this.state,
      dirs: this.settings.dirs,
      queue: this.queue.size,
      current: [...this.running.keys()],
      indexed: this.indexedCount,
      recentFailures: this.failures.slice(-20),
    };
  }

  private setState(state: DaemonStatus['state']): void {
    const changed = state !== this.state;
    this.state = state;
    this.writeStatus(changed);
  }

  private writeStatus(force = false): void {
    if (!force && Date.now() - this.lastStatusWrite < 500) return;
    this.lastStatusWrite = Date.now();
    const file = statusFile(this.engine.cfg.home);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify(this.status(), null, 1));
      fs.renameSync(tmp, file);
    } catch (err) {
      this.log({ event: 'warning', message: `cannot write ${file}: ${errorMessage(err)}` });
    }
  }

  private onEvent(e: WatchEvent): void {
    if (e.type === 'error') return this.log({ event: 'watch-error', error: e.error.message });
    if (e.type === 'odd-name') return this.oddNameIn(e.dir);
    if (e.type === 'add' || e.type === 'change') this.noticed(e.path, 'index');
    else if (e.type === 'unlink') this.noticed(e.path, 'remove', this.settings.removeGraceMs);
    else if (e.type === 'unlinkDir') {
      void this.engine.store.videosUnder(e.path).then((videos) => {
        for (const v of videos) this.noticed(v.path, 'remove', this.settings.removeGraceMs);
      });
    }
  }

  private readonly badNamesSeen = new Set<string>();
  private readonly oddDirs = new Set<string>();

  // A copy under such a name raises an event per write: read the folder once they pause.
  private oddNameIn(dir: string): void {
    if (this.oddDirs.has(dir)) return;
    this.oddDirs.add(dir);
    setTimeout(() => {
      this.oddDirs.delete(dir);
      if (!this.stopping) this.badNames(dir);
    }, 500).unref();
  }

  /** Says once per file which names in `dir` cannot be opened (not UTF-8), as the reconcile does. */
  private badNames(dir: string): void {
    for (const p of badNamesIn(dir)) {
      if (this.badNamesSeen.has(p.path)) continue;
      this.badNamesSeen.add(p.path);
      this.log({ event: 'bad-name', path: p.path, error: p.error });
    }
  }

  /** A watch event queues work; logged once per file and kind, not for every write of a copy. */
  private noticed(file: string, kind: Job['kind'], delayMs = 0): void {
    const known = this.queue.get(file)?.kind === kind;
    this.enqueue(file, kind, delayMs);
    if (!known && !this.stopping) this.log({ event: 'queued', path: file, kind });
  }

  /** The latest event for a path wins: a file deleted while queued is removed, not indexed. */
  private enqueue(file: string, kind: Job['kind'], delayMs = 0): void {
    if (this.stopping) return;
    this.queue.set(file, { path: file, kind, attempts: 0, notBefore: Date.now() + delayMs });
    this.writeStatus();
    this.wake();
  }

  /** Index jobs first; removals only when no index job is ahead of them, so a rename is seen as one. */
  private next(): Job | 'wait' | undefined {
    const now = Date.now();
    const pending = [...this.queue.values()].filter((j) => !this.running.has(j.path));
    const ready = pending.filter((j) => j.notBefore <= now);
    const index = ready.find((j) => j.kind === 'index');
    if (index) return index;
    const indexAhead = pending.some((j) => j.kind === 'index') || [...this.running.values()].some((r) => r.kind === 'index');
    const removal = ready.find((j) => j.kind === 'remove');
    if (removal && !indexAhead) return removal;
    return pending.length ? 'wait' : undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const job = this.running.size < this.settings.concurrency ? this.next() : 'wait';
      if (job && job !== 'wait') {
        this.queue.delete(job.path);
        const done = this.run(job).finally(() => {
          this.running.delete(job.path);
          this.wake();
        });
        this.running.set(job.path, { kind: job.kind, done });
        this.setState('working');
        continue;
      }
      if (!job && this.running.size === 0 && this.state !== 'idle') {
        // Publish right away when the work is done: searchable = stable + indexing time. A file
        // that cannot be written (a full disk) must not end the daemon: the database has it all,
        // and the next flush tries again.
        await this.engine.store.flushIndex().catch((err: unknown) => this.log({ event: 'warning', message: `cannot publish the index: ${errorMessage(asDiskFull(err, this.engine.cfg.home) ?? err)}` }));
        this.setState('idle');
        this.log({ event: 'idle', indexed: this.indexedCount });
      }
      // Sleep until an event or a running job wakes us; a delayed job needs a timer.
      if (this.woken) {
        this.woken = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = job === 'wait' ? setTimeout(resolve, 200) : undefined;
        this.wake = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
      });
      this.wake = () => {
        this.woken = true;
      };
    }
  }

  private async run(job: Job): Promise<void> {
    try {
      if (job.kind === 'remove') return await this.remove(job);
      const stable = await waitStable(job.path, this.settings.stabilityMs, () => this.stopping);
      if (!stable) return; // gone or stopping; an unlink event (or the next start) handles it
      this.log({ event: 'indexing', path: job.path });
      const result = await indexFile(this.engine, job.path, { signal: this.controller.signal });
      this.report(job, result);
      await this.engine.store.flushIndex(this.queue.size === 0 ? 0 : 5000);
    } catch (err) {
      if (this.stopping) return this.log({ event: 'abandoned', path: job.path });
      // A full disk (or a busy database) is nobody's fault and passes: nothing was recorded
      // against the file, so it is simply tried again later. A broken tool is logged, and the
      // file stays pending for the next start.
      if (job.kind === 'index' && isTransientError(err) && mayRetry(job.attempts, this.settings.maxAttempts)) return this.retry(job, errorMessage(err));
      this.log({ event: 'error', path: job.path, error: errorMessage(err) });
      this.failures.push({ path: job.path, error: errorMessage(err), at: new Date().toISOString() });
    } finally {
      this.writeStatus();
    }
  }

  private report(job: Job, result: JobResult): void {
    if (result.status === 'indexed') {
      this.indexedCount++;
      this.log({ event: 'indexed', path: result.path, videoId: result.videoId, segments: result.segments, frames: result.frames, seconds: result.seconds });
      return;
    }
    if (result.status === 'skipped') {
      if (result.reason === CHANGED_WHILE_INDEXING) return this.retry(job, result.reason);
      this.log({ event: result.movedFrom !== undefined ? 'moved' : 'skipped', path: result.path, reason: result.reason });
      return;
    }
    if (result.transient && mayRetry(job.attempts, this.settings.maxAttempts)) return this.retry(job, result.error);
    this.failures.push({ path: result.path, error: result.error, at: new Date().toISOString() });
    if (this.failures.length > 100) this.failures.splice(0, this.failures.length - 100);
    this.log({ event: 'failed', path: result.path, error: result.error });
  }

  private retry(job: Job, reason: string): void {
    const attempts = job.attempts + 1;
    const delay = retryDelayMs(attempts, this.settings.retryBaseMs);
    this.log({ event: 'retry', path: job.path, reason, attempt: attempts, inMs: delay });
    if (!this.queue.has(job.path)) this.queue.set(job.path, { ...job, attempts, notBefore: Date.now() + delay });
  }

  private async remove(job: Job): Promise<void> {
    const now = presence(job.path);
    if (now.state === 'present') return; // it came back (or was replaced): a change event re-indexes it
    if (now.state === 'unknown') {
      // Not visible (its folder became unreadable) is not deleted: the rows stay.
      return this.log({ event: 'unreadable', path: job.path, error: `cannot tell whether it still exists (${now.code}: ${now.error}); kept in the index as it is` });
    }
    const video = await this.engine.store.videoByPath(job.path);
    if (!video) return;
    await this.engine.store.removeVideo(video.id);
    this.log({ event: 'removed', path: job.path, videoId: video.id });
    await this.engine.store.flushIndex(this.queue.size === 0 ? 0 : 5000);
  }

}
