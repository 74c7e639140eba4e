// The library's roots (the folders and files the user gave to `vidsearch index` / `watch`) and the
// one rule for which file of a video may be read on its behalf, by the stream, by thumbnails, by
// anything that serves a library file. A database row only says where a file was; what is there now
// may be something else (a symlink to /etc/passwd, a file edited since, a path outside the library).
import fs from 'node:fs';
import path from 'node:path';
import { FileChangedError, FileNotServedError } from '../core/errors';
import { insideRoots } from '../io/files/files';
import type { VideoRecord } from '../core/storage';
import type { Store } from './store';
import { sameStamp, stampOf } from '../core/stamps';

/** Setting holding the real paths of every root given to a writer, as a JSON array. */
export const ROOTS_SETTING = 'libraryRoots';

/**
 * How a video's file on disk compares with its row:
 * ok (inside a root, a regular file, same size and mtime as indexed) · missing · changed (size or
 * mtime differ: edited or replaced since indexing) · outside (its real path, symlinks resolved, is
 * in no library root) · unreadable (not a regular file, or no permission) · unverified (this data
 * directory has no roots recorded: indexed by a vidsearch from before roots were kept).
 */
export type FileState = 'ok' | 'missing' | 'changed' | 'outside' | 'unreadable' | 'unverified';

/** The roots: those recorded by indexing and watching, and the libraries' folders (real paths); empty when there are none. */
export async function libraryRoots(store: Store): Promise<string[]> {
  const [raw, folders] = await Promise.all([store.setting(ROOTS_SETTING), store.libraryFolders()]);
  return [...new Set([...recorded(raw), ...folders])];
}

function recorded(raw: string | undefined): string[] {
  if (!raw) return [];
  try {
    const roots: unknown = JSON.parse(raw);
    return Array.isArray(roots) ? roots.filter((r): r is string => typeof r === 'string' && path.isAbsolute(r)) : [];
  } catch {
    return []; // unreadable setting: as if none, so nothing is served rather than anything
  }
}

/**
 * Adds the real paths of `targets` to the recorded roots (a writer, when indexing or watching
 * starts). Roots accumulate: indexing one folder does not take another out of the library. A target
 * that does not exist is not a root (nothing of it can be indexed).
 */
export async function recordLibraryRoots(store: Store, targets: string[]): Promise<string[]> {
  const roots = new Set(recorded(await store.setting(ROOTS_SETTING)));
  const before = roots.size;
  for (const target of targets) {
    const real = await fs.promises.realpath(path.resolve(target)).catch(() => undefined);
    if (real) roots.add(real);
  }
  const list = [...roots].sort();
  if (roots.size !== before || !(await store.setting(ROOTS_SETTING))) await store.setSetting(ROOTS_SETTING, JSON.stringify(list));
  return list;
}

export interface VideoFile {
  /** the open file: read from it, not from a path, so what was checked is what is read */
  handle: fs.promises.FileHandle;
  /** the checked real path (no symlinks), for tools that need a path (ffmpeg) */
  realPath: string;
  stats: fs.Stats;
}

type Verdict = ({ state: 'ok' } & VideoFile) | { state: Exclude<FileState, 'ok'>; message: string };

// No blocking on a FIFO, no controlling terminal, and the last component must not be a symlink:
// realpath resolved them all, so one appearing now means the path changed under us.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0);

/** The path the kernel opened for `handle` (Linux: /proc/self/fd); undefined where there is none. */
async function openedPath(handle: fs.promises.FileHandle): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  return fs.promises.readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
}

/**
 * The rule, stated once. Resolve the row's path (symlinks included) before opening anything, so no
 * file outside the roots (a device, a FIFO, a secret) is ever opened; open the real path; then
 * check the opened file itself: the path the kernel opened is the one that was checked (a folder
 * swapped for a symlink in between is caught), it is a regular file, and its size and
 * whole-millisecond mtime are the row's (files.ts fileStamp).
 */
async function inspect(video: VideoRecord, roots: readonly string[]): Promise<Verdict> {
  const id = video.id;
  if (roots.length === 0) {
    return {
      state: 'unverified',
      message: `this data directory has no library folders recorded (it was indexed by an older vidsearch), so the file of video ${id} cannot be checked: run \`vidsearch index <folder>\` once for each library folder (unchanged files are skipped, nothing is decoded)`,
    };
  }
  let real: string;
  try {
    real = await fs.promises.realpath(video.path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing', message: `the file of video ${id} is gone from disk: ${video.path}` };
    return { state: 'unreadable', message: `the file of video ${id} cannot be read (${code ?? 'error'}): ${video.path}` };
  }
  // The real path is not shown: it may name a file the library has no business revealing.
  const outside = { state: 'outside', message: `the file of video ${id} is not inside a library folder (its real path, symlinks resolved, leads elsewhere): ${video.path}` } as const;
  if (!insideRoots(real, roots)) return outside;
  const changed = { state: 'changed', message: `the file of video ${id} changed since it was indexed: run \`vidsearch index\` on its folder to index it again: ${video.path}` } as const;
  const lst = await fs.promises.lstat(real).catch(() => undefined);
  if (!lst) return { state: 'missing', message: `the file of video ${id} is gone from disk: ${video.path}` };
  if (!lst.isFile()) return { state: 'unreadable', message: `the file of video ${id} is not a regular file: ${video.path}` };
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(real, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'missing', message: `the file of video ${id} is gone from disk: ${video.path}` };
    if (code === 'ELOOP') return changed;
    return { state: 'unreadable', message: `the file of video ${id} cannot be read (${code ?? 'error'}): ${video.path}` };
  }
  let verdict: Verdict;
  try {
    verdict = await checkOpened(handle, real, video, roots, { changed, outside });
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
  if (verdict.state !== 'ok') await handle.close().catch(() => {});
  return verdict;
}

/** The checks on the opened file itself; `real` is the path that was opened. */
async function checkOpened(
  handle: fs.promises.FileHandle,
  real: string,
  video: VideoRecord,
  roots: readonly string[],
  refusals: { changed: Verdict; outside: Verdict },
): Promise<Verdict> {
  const stats = await handle.stat();
  if (!stats.isFile()) return { state: 'unreadable', message: `the file of video ${video.id} is not a regular file: ${video.path}` };
  const opened = await openedPath(handle);
  if (opened !== undefined) {
    if (opened !== real) return insideRoots(opened, roots) ? refusals.changed : refusals.outside;
  } else {
    // No /proc: the file now at the real path must be the one opened (narrows the window).
    const now = await fs.promises.stat(real).catch(() => undefined);
    if (!now || now.dev !== stats.dev || now.ino !== stats.ino) return refusals.changed;
  }
  if (!sameStamp(stampOf(stats), video)) return refusals.changed;
  return { state: 'ok', handle, realPath: real, stats };
}

/**
 * Opens the file of an indexed video for serving, or throws: FileNotServedError (404) when the video
 * is not indexed, or its file is missing, outside every library root, or not a regular file;
 * FileChangedError (409) when it changed since indexing (or roots were never recorded). The caller
 * owns the handle and must close it.
 */
export async function openVideoFile(store: Store, video: VideoRecord): Promise<VideoFile> {
  if (video.status !== 'indexed') {
    throw new FileNotServedError(`video ${video.id} is ${video.status}${video.error ? ` (${video.error})` : ''}: only indexed videos are served`, {
      cause: { videoId: video.id, state: 'not-indexed' },
    });
  }
  const verdict = await inspect(video, await libraryRoots(store));
  if (verdict.state === 'ok') return verdict;
  const Err = verdict.state === 'changed' || verdict.state === 'unverified' ? FileChangedError : FileNotServedError;
  throw new Err(verdict.message, { cause: { videoId: video.id, state: verdict.state } });
}

/**
 * The state of each video's file, by the same rule the stream and thumbnails apply (whatever the
 * video's status), for pages and the API: the web app cannot write, so this is how it shows that a
 * file changed or went missing since indexing. A few files at a time, to stay clear of EMFILE.
 */
export async function videoFileStates(store: Store, videos: readonly VideoRecord[]): Promise<Map<number, FileState>> {
  const roots = await libraryRoots(store);
  const out = new Map<number, FileState>();
  for (let at = 0; at < videos.length; at += 32) {
    await Promise.all(
      videos.slice(at, at + 32).map(async (v) => {
        const verdict = await inspect(v, roots);
        if (verdict.state === 'ok') await verdict.handle.close().catch(() => {});
        out.set(v.id, verdict.state);
      }),
    );
  }
  return out;
}
