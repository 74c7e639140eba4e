// Indexing rules: which files to (re)index, skip or remove, and how one video becomes rows and
// vectors. Takes the I/O modules as arguments; a job reports indexed / skipped / failed and never
// throws for a bad file.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config';
import { errorMessage } from './errors';
import { frames as decodeFrames, probe as probeVideo } from './media';
import type { ClipModel } from './model';
import { planSegments, poolSegments, type PoolingStrategy, type TimedVector } from './pooling';
import type { Store } from './store';
import type { RawFrame } from './types';

export interface Engine {
  cfg: Config;
  model: ClipModel;
  store: Store;
  pooling: PoolingStrategy;
}

export type JobResult =
  | { status: 'indexed'; path: string; videoId: number; segments: number; frames: number; seconds: number }
  | { status: 'skipped'; path: string; reason: string }
  | { status: 'failed'; path: string; error: string };

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

export const VIDEO_EXTENSIONS = new Set([
  '.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.wmv', '.flv', '.mpg', '.mpeg', '.ts', '.mts', '.m2ts', '.3gp', '.ogv', '.qt',
]);
// Downloads and copies in progress, editors' temporaries.
const PARTIAL = /\.(part|crdownload|tmp|download|partial)$/i;

/**
 * A file's identity besides its path: size and whole-millisecond mtime. Sub-millisecond digits do
 * not survive the database round trip, and no copy tool preserves them anyway.
 */
export function fileStamp(st: fs.Stats): { size: number; mtimeMs: number } {
  return { size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
}

export function isCandidate(file: string): boolean {
  const base = path.basename(file);
  return !base.startsWith('.') && !PARTIAL.test(base) && VIDEO_EXTENSIONS.has(path.extname(base).toLowerCase());
}

/** Video files under `dir`, recursively, sorted; hidden folders skipped, symlink loops guarded. */
export function walkVideos(dir: string, seen = new Set<string>()): string[] {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return [];
  }
  if (seen.has(real)) return [];
  seen.add(real);
  const out: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        const st = fs.statSync(full);
        isDir = st.isDirectory();
        isFile = st.isFile();
      } catch {
        continue;
      }
    }
    if (isDir) out.push(...walkVideos(full, seen));
    else if (isFile && isCandidate(full)) out.push(full);
  }
  return out.sort();
}

/**
 * Reads ahead of the consumer, up to `limit` items, so decoding runs while the model infers:
 * onnxruntime-node runs inference off the event loop, and ffmpeg is its own process.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, limit: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: Array<Promise<IteratorResult<T>>> = [];
  try {
    for (;;) {
      while (queue.length < limit) queue.push(it.next());
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

async function encodeVideo(engine: Engine, file: string, signal: AbortSignal | undefined, onFrames: (n: number, duration: number) => void) {
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

/** Indexes one file: skipped when unchanged, failed (recorded with its error) when unusable. */
export async function indexFile(engine: Engine, file: string, opts: IndexOptions = {}, onFrames: (n: number, d: number) => void = () => {}): Promise<JobResult> {
  const started = Date.now();
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
    if (!st.isFile()) return { status: 'failed', path: file, error: 'not a regular file' };
  } catch (err) {
    return { status: 'failed', path: file, error: `cannot read: ${errorMessage(err)}` };
  }
  const stamp = fileStamp(st);
  const known = await engine.store.videoByPath(file);
  const unchanged = !!known && known.size === stamp.size && known.mtimeMs === stamp.mtimeMs;
  if (unchanged && !opts.force) {
    if (known.status === 'indexed') return { status: 'skipped', path: file, reason: 'unchanged' };
    if (known.status === 'failed' && !opts.retryFailed) return { status: 'skipped', path: file, reason: `unchanged, failed earlier: ${known.error}` };
  }
  try {
    const { probe, vectors } = await encodeVideo(engine, file, opts.signal, onFrames);
    if (vectors.length === 0) throw new Error('no frames could be decoded');
    const after = fileStamp(fs.statSync(file));
    if (after.size !== stamp.size || after.mtimeMs !== stamp.mtimeMs) {
      return { status: 'skipped', path: file, reason: 'file changed while it was being indexed; it will be picked up next time' };
    }
    const interval = 1 / engine.cfg.fps;
    const plan = planSegments(vectors.map((v) => v.time), engine.cfg.segmentSeconds, probe.duration, interval);
    const segmentOf = new Array<number>(vectors.length);
    for (const p of plan) for (const i of p.frames) segmentOf[i] = p.idx;
    const { segments, video } = await poolSegments(vectors, plan, engine.pooling);
    const saved = await engine.store.saveIndexed({
      path: file,
      ...stamp,
      probe,
      frames: vectors.map((v, i) => ({ time: v.time, segmentIdx: segmentOf[i], vector: v.vector })),
      segments,
      video,
    });
    return { status: 'indexed', path: file, videoId: saved.videoId, segments: saved.segments, frames: saved.frames, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const error = errorMessage(err);
    await engine.store.markFailed(file, stamp.size, stamp.mtimeMs, error);
    return { status: 'failed', path: file, error };
  }
}

/**
 * Indexes files and folders: new and changed files are indexed, unchanged ones skipped without
 * decoding, and videos of a folder that are gone from disk removed.
 */
export async function indexTargets(engine: Engine, targets: string[], opts: IndexOptions = {}): Promise<IndexReport> {
  const report: IndexReport = { indexed: [], skipped: [], removed: [], failed: [] };
  const files: string[] = [];
  const toRemove: Array<{ id: number; path: string }> = [];
  for (const target of targets.map((t) => path.resolve(t))) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(target);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) {
      const found = walkVideos(target);
      files.push(...found);
      const present = new Set(found);
      for (const v of await engine.store.videosUnder(target)) if (!present.has(v.path) && !fs.existsSync(v.path)) toRemove.push(v);
    } else if (st) {
      files.push(target);
    } else {
      const known = await engine.store.videoByPath(target);
      if (known) toRemove.push(known);
      else report.failed.push({ path: target, error: 'no such file or directory' });
    }
  }
  const unique = [...new Set(files)];
  opts.onEvent?.({ type: 'plan', files: unique.length, removed: toRemove.length });
  for (const v of toRemove) {
    await engine.store.removeVideo(v.id);
    report.removed.push({ path: v.path });
  }
  for (const file of unique) {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (st) {
      const stamp = fileStamp(st);
      await engine.store.markPending(file, stamp.size, stamp.mtimeMs);
    }
  }
  for (const [i, file] of unique.entries()) {
    if (opts.signal?.aborted) break;
    opts.onEvent?.({ type: 'start', path: file, index: i, files: unique.length });
    const result = await indexFile(engine, file, opts, (frames, duration) => opts.onEvent?.({ type: 'frames', path: file, frames, duration }));
    if (result.status === 'indexed') report.indexed.push({ path: file, videoId: result.videoId, segments: result.segments, frames: result.frames });
    else if (result.status === 'skipped') report.skipped.push({ path: file, reason: result.reason });
    else report.failed.push({ path: file, error: result.error });
    opts.onEvent?.({ type: 'done', result, index: i, files: unique.length });
    // Readers see new videos within seconds, without rewriting a large index after every file.
    await engine.store.flushIndex(5000);
  }
  await engine.store.flushIndex();
  return report;
}
