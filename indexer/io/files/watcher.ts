// The file-watching I/O boundary (chokidar). It only reports what happened to candidate files;
// deciding what to do is the daemon's job.
import { watch, type FSWatcher } from 'chokidar';
import path from 'node:path';
import { inHiddenDir, isCandidate } from './files';

export type WatchEvent =
  | { type: 'add' | 'change' | 'unlink'; path: string }
  | { type: 'unlinkDir'; path: string }
  /** something happened to a name that is not UTF-8 in `dir`: chokidar cannot stat it, so says nothing else */
  | { type: 'odd-name'; dir: string }
  | { type: 'error'; error: Error };

export interface LibraryWatcher {
  ready: Promise<void>;
  close(): Promise<void>;
}

export function watchLibrary(dirs: string[], onEvent: (e: WatchEvent) => void, opts: { poll?: boolean; pollIntervalMs?: number } = {}): LibraryWatcher {
  const roots = dirs.map((d) => path.resolve(d));
  const ignored = (p: string, stats?: { isFile(): boolean; isDirectory(): boolean }) => {
    const root = roots.find((r) => p === r || p.startsWith(r + path.sep));
    if (!root || p === root) return false;
    if (path.basename(p).startsWith('.') || inHiddenDir(root, p)) return true;
    // Directories must be walked; files are watched only when they could be videos.
    return !!stats?.isFile() && !isCandidate(p);
  };
  const watcher: FSWatcher = watch(roots, {
    ignoreInitial: true,
    ignored,
    // inotify by default: an idle library costs nothing. Network file systems need polling.
    usePolling: !!opts.poll,
    interval: opts.pollIntervalMs ?? 5000,
    binaryInterval: opts.pollIntervalMs ?? 5000,
    followSymlinks: true,
    atomic: false,
  });
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  watcher.on('add', (p) => isCandidate(p) && onEvent({ type: 'add', path: path.resolve(p) }));
  watcher.on('change', (p) => isCandidate(p) && onEvent({ type: 'change', path: path.resolve(p) }));
  watcher.on('unlink', (p) => isCandidate(p) && onEvent({ type: 'unlink', path: path.resolve(p) }));
  watcher.on('unlinkDir', (p) => onEvent({ type: 'unlinkDir', path: path.resolve(p) }));
  // inotify's raw event carries Node's lossy name (U+FFFD for the bytes that are not UTF-8).
  watcher.on('raw', (_event, name, details) => {
    const dir = (details as { watchedPath?: string } | undefined)?.watchedPath;
    if (typeof name === 'string' && name.includes('\uFFFD') && dir) onEvent({ type: 'odd-name', dir: path.resolve(dir) });
  });
  watcher.on('error', (error) => onEvent({ type: 'error', error: error instanceof Error ? error : new Error(String(error)) }));
  return { ready, close: () => watcher.close() };
}
