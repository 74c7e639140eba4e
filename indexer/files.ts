// The file system side of a library: which files are candidates, how a file is identified
// (path + size + mtime), and a content fingerprint that recognises a moved file without decoding.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const VIDEO_EXTENSIONS = new Set([
  '.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.wmv', '.flv', '.mpg', '.mpeg', '.ts', '.mts', '.m2ts', '.3gp', '.ogv', '.qt',
]);
// Downloads and copies in progress, editors' temporaries.
const PARTIAL = /\.(part|crdownload|tmp|download|partial)$/i;

export interface FileStamp {
  size: number;
  mtimeMs: number;
}

/**
 * A file's identity besides its path: size and whole-millisecond mtime. Sub-millisecond digits do
 * not survive the database round trip, and no copy tool preserves them anyway.
 */
export function fileStamp(st: fs.Stats): FileStamp {
  return { size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
}

/** Hidden files and partial downloads are never candidates; videos are recognised by extension. */
export function isCandidate(file: string): boolean {
  const base = path.basename(file);
  return !base.startsWith('.') && !PARTIAL.test(base) && VIDEO_EXTENSIONS.has(path.extname(base).toLowerCase());
}

/** True when some folder on the way from `root` to `file` is hidden. */
export function inHiddenDir(root: string, file: string): boolean {
  return path
    .relative(root, path.dirname(file))
    .split(path.sep)
    .some((part) => part.startsWith('.') && part !== '..' && part !== '.');
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

const SAMPLE = 64 * 1024;

/**
 * sha256 over the size and three 64 KiB samples (start, middle, end): reads at most 192 KiB, and
 * with the size it tells a moved file from a different one in practice.
 */
export function fingerprint(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const hash = crypto.createHash('sha256').update(`${size}:`);
    const buf = Buffer.alloc(SAMPLE);
    for (const at of [0, Math.max(0, Math.floor(size / 2) - SAMPLE / 2), Math.max(0, size - SAMPLE)]) {
      const n = fs.readSync(fd, buf, 0, SAMPLE, at);
      hash.update(buf.subarray(0, n));
    }
    return hash.digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}
