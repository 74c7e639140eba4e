// Indexing: a run over files and folders (planned by plan.ts: which to (re)index, skip or remove)
// and how one video becomes rows and vectors (decode, encode, core/pooling.ts segmentVideo, tag,
// save). Takes the I/O modules as arguments; a job reports indexed / skipped / failed and never
// throws for a bad file.
import fs from 'node:fs';
import path from 'node:path';
import { ActionTagger, LABEL_SET_SETTING, activeLabelSetChoice, labelSet, labelSetFromSpec, type LabelSet } from './actions';
import type { Config } from './config';
import { ModelError, ToolError, VidsearchError, asDiskFull, errorMessage, isTransientError } from '../core/errors';
import { fileStamp, fingerprint, presence, type FileStamp } from '../io/files/files';
import { recordLibraryRoots } from './library';
import { frames as decodeFrames, probe as probeVideo } from '../io/ffmpeg/media';
import type { ClipModel } from '../io/onnx/model';
import { segmentVideo, type PoolingStrategy, type TimedVector } from '../core/pooling';
import type { Store, VideoRecord } from '../io/db/store';
import type { RawFrame } from '../core/types';
import { sameStamp, unchangedReason } from '../core/stamps';
import { planTargets } from './plan';
import { toLocalPath, toStoredPath, type PathMapping } from '../core/paths';

export interface Engine {
  cfg: Config;
  model: ClipModel;
  store: Store;
  pooling: PoolingStrategy;
  tagger: ActionTagger;
}

/** The label set new videos are tagged with: the library's (set by `tag --all`), else the config's. */
export async function activeLabelSet(engine: Pick<Engine, 'store' | 'cfg'>): Promise<LabelSet | undefined> {
  const choice = activeLabelSetChoice(await engine.store.setting(LABEL_SET_SETTING), engine.cfg.labelSet);
  if (!choice) return undefined;
  return 'spec' in choice ? labelSetFromSpec(choice.spec) : labelSet(choice.name);
}

export type JobResult =
  | { status: 'indexed'; path: string; videoId: number; segments: number; frames: number; seconds: number }
  | { status: 'skipped'; path: string; reason: string; /** a renamed or moved file: the path its vectors were kept from */ movedFrom?: string }
  | {
      status: 'failed';
      path: string;
      error: string;
      /** may succeed later by itself (busy, timed out): the daemon retries it */
      transient?: boolean;
      /** nothing was recorded against the file (the tool crashed on it): tried again next run */
      unrecorded?: boolean;
    };

export interface IndexReport {
  indexed: Array<{ path: string; videoId: number; segments: number; frames: number }>;
  skipped: Array<{ path: string; reason: string }>;
  removed: Array<{ path: string }>;
  failed: Array<{ path: string; error: string }>;
}

export interface IndexOptions {
  /** re-index even unchanged files */
  force?: boolean;
  /** retry files that failed before even if they did not change */
  retryFailed?: boolean;
  signal?: AbortSignal;
  /** called as work progresses (for progress bars and logs) */
  onEvent?: (e: IndexEvent) => void;
}

export type IndexEvent =
  | { type: 'plan'; files: number; removed: number }
  | { type: 'start'; path: string; index: number; files: number }
  | { type: 'frames'; path: string; frames: number; duration: number }
  | { type: 'done'; result: JobResult; index: number; files: number };

/**
 * Reads ahead of the consumer, up to `limit` items, so decoding runs while the model infers:
 * onnxruntime-node runs inference off the event loop, and ffmpeg is its own process.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, limit: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: Array<Promise<IteratorResult<T>>> = [];
  try {
    for (;;) {
      while (queue.length < limit) {
        // Observed from the start: a read that fails (a decoder stopped by a worker's stop, a file
        // that breaks off) while the consumer is still busy with earlier items would otherwise be
        // an unhandled rejection until its turn comes, and Node ends the process for those. The
        // failure still reaches the consumer, in order, when it awaits this read.
        const next = it.next();
        next.catch(() => {});
        queue.push(next);
      }
      const next = await queue.shift()!;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Settle what is in flight before closing the source so the decoder is not left running.
    await Promise.allSettled(queue);
    await it.return?.();
  }
}

export async function encodeVideo(engine: Engine, file: string, signal: AbortSignal | undefined, onFrames: (n: number, duration: number) => void) {
  const probe = await probeVideo(file, { signal });
  const { cfg, model } = engine;
  const vectors: TimedVector[] = [];
  let batch: RawFrame[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const encoded = await model.encodeImages(batch);
    batch.forEach((f, i) => vectors.push({ time: f.time, vector: encoded[i] }));
    batch = [];
    onFrames(vectors.length, probe.duration);
  };
  const source = decodeFrames(file, { fps: cfg.fps, size: model.image.size, probe, signal });
  for await (const frame of readAhead(source, cfg.batchSize * 2)) {
    batch.push(frame);
    if (batch.length >= cfg.batchSize) await flush();
  }
  await flush();
  return { probe, vectors };
}

/**
 * A file that is new by path but has the size and fingerprint of an indexed video whose path is
 * gone was moved or renamed: its rows follow it, without decoding anything. A path that cannot be
 * looked at (an unreadable folder) is not gone: the new file is a copy.
 */
async function detectMove(store: Store, file: string, stamp: FileStamp, print: string, map: readonly PathMapping[]): Promise<VideoRecord | undefined> {
  for (const v of await store.videosWithFingerprint(stamp.size, print)) {
    if (v.path !== file && v.status === 'indexed' && presence(toLocalPath(v.path, map)).state === 'gone') return v;
  }
  return undefined;
}

/**
 * Indexes one file: skipped when unchanged, failed (recorded with its error) when unusable.
 * `file` is the path as the database records it; this machine reads it where VIDSEARCH_PATH_MAP
 * says it is mounted (the one place a worker opens a file).
 */
export async function indexFile(engine: Engine, file: string, opts: IndexOptions = {}, onFrames: (n: number, d: number) => void = () => {}): Promise<JobResult> {
  const started = Date.now();
  const map = engine.cfg.pathMap;
  const local = toLocalPath(file, map);
  let st: fs.Stats;
  try {
    st = fs.statSync(local);
    if (!st.isFile()) return { status: 'failed', path: file, error: 'not a regular file' };
  } catch (err) {
    return { status: 'failed', path: file, error: `cannot read: ${errorMessage(err)}` };
  }
  const stamp = fileStamp(st);
  const known = await engine.store.videoByPath(file);
  const unchanged = unchangedReason(known, stamp, opts);
  if (unchanged) return { status: 'skipped', path: file, reason: unchanged };
  try {
    const print = fingerprint(local);
    if (known?.status !== 'indexed' && !opts.force) {
      const moved = await detectMove(engine.store, file, stamp, print, map);
      if (moved) {
        await engine.store.moveVideo(moved.id, file, stamp);
        return { status: 'skipped', path: file, reason: `moved from ${moved.path}`, movedFrom: moved.path };
      }
    }
    const { probe, vectors } = await encodeVideo(engine, local, opts.signal, onFrames);
    if (vectors.length === 0) throw new Error('no frames could be decoded');
    const after = fileStamp(fs.statSync(local));
    if (!sameStamp(after, stamp)) {
      return { status: 'skipped', path: file, reason: CHANGED_WHILE_INDEXING };
    }
    const { segments, video, segmentOf } = await segmentVideo(vectors, probe.duration, engine.cfg, engine.pooling);
    const set = await activeLabelSet(engine);
    const tags = set ? await engine.tagger.tag(set, video, segments) : undefined;
    const saved = await engine.store.saveIndexed({
      path: file,
      ...stamp,
      fingerprint: print,
      probe,
      frames: vectors.map((v, i) => ({ time: v.time, segmentIdx: segmentOf[i], vector: v.vector })),
      segments,
      video,
      tags,
    });
    return { status: 'indexed', path: file, videoId: saved.videoId, segments: saved.segments, frames: saved.frames, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    // Not the file's fault, so nothing is recorded against it: a full disk or a broken tool stops
    // the work (the caller decides: the CLI stops the run, the daemon retries later); a tool that
    // crashed on this file fails this job only, and the file is tried again next time.
    const full = asDiskFull(err, engine.cfg.home);
    if (full) throw full;
    // The model loads its image encoder on the first frame (model.ts): a broken one stops the run.
    if (err instanceof ModelError) throw err;
    if (err instanceof ToolError) {
      // A build that is broken or missing stops the run; one that fails on this file (a crash, a
      // filter it lacks) fails this file only, unrecorded, so a better ffmpeg can index it later.
      if (err.detail.kind !== 'crashed' && err.detail.kind !== 'lacks-filter') throw err;
      return { status: 'failed', path: file, error: err.message, unrecorded: true };
    }
    const error = errorMessage(err);
    await engine.store.markFailed(file, stamp.size, stamp.mtimeMs, error);
    return { status: 'failed', path: file, error, ...(isTransientError(err) ? { transient: true } : {}) };
  }
}

/**
 * An indexing run stopped before its end by something that is not any file's fault (a full disk,
 * a broken ffmpeg/ffprobe): `reason` says what; `report` holds what was done (and saved) before it.
 */
export class RunStoppedError extends VidsearchError {
  override name = 'RunStoppedError';
  constructor(
    readonly reason: VidsearchError,
    readonly report: IndexReport,
  ) {
    const n = report.indexed.length;
    super(`${reason.message.replace(/\.$/, '')}; ${n} ${n === 1 ? 'file' : 'files'} saved before it`, { cause: reason });
  }
}

export const CHANGED_WHILE_INDEXING = 'file changed while it was being indexed; it will be picked up next time';

export { planTargets, type TargetPlan } from './plan';

/**
 * Indexes files and folders: new and changed files are indexed, unchanged ones skipped without
 * decoding, moved ones followed, and videos of a folder that are gone from disk removed.
 */
export async function indexTargets(engine: Engine, targets: string[], opts: IndexOptions = {}): Promise<IndexReport> {
  const report: IndexReport = { indexed: [], skipped: [], removed: [], failed: [] };
  // What the user typed is a path on this machine; the database records the stored one.
  targets = targets.map((t) => toStoredPath(path.resolve(t), engine.cfg.pathMap));
  try {
    // What the user gives to index is the library: the server serves files inside these roots only.
    await recordLibraryRoots(engine.store, targets);
    await runPlan(engine, targets, opts, report);
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const reason = asDiskFull(err, engine.cfg.home) ?? (err instanceof ToolError || err instanceof ModelError ? err : undefined);
    if (reason) throw new RunStoppedError(reason, report);
    throw err;
  }
  return report;
}

/**
 * The plan's work goes through the job queue in the database, like every worker's: one job per
 * file, which this run then works on itself (and any other worker may take too). A file already
 * queued or running for another run (or the server's worker) is the same job: this run waits for
 * it instead of indexing it twice.
 */
async function runPlan(engine: Engine, targets: string[], opts: IndexOptions, report: IndexReport): Promise<void> {
  const plan = await planTargets(engine.store, targets, opts, engine.cfg.pathMap);
  report.skipped.push(...plan.unchanged);
  report.failed.push(...plan.missing.map((p) => ({ path: p, error: 'no such file or directory' })));
  // Reported as failed (exit 1): not indexed, and only the user can fix it. A link out of the
  // library is the user's choice, so it is skipped with the reason instead.
  for (const p of plan.problems) {
    if (p.kind === 'outside') report.skipped.push({ path: p.path, reason: p.error });
    else report.failed.push({ path: p.path, error: p.error });
  }
  opts.onEvent?.({ type: 'plan', files: plan.work.length, removed: plan.gone.length });
  await engine.store.markPendingMany(plan.work);
  const { runBatch } = await import('./worker');
  await runBatch(engine, plan.work.map((w) => w.path), plan.gone.map((v) => v.path), opts, report);
  await engine.store.flushIndex();
}
