// The file system side of a library: which files are candidates, how a file is identified
// (path + size + mtime), and a content fingerprint that recognises a moved file without decoding.
import fs from 'node:fs';
import path from 'node:path';
import { FINGERPRINT_SAMPLE, fingerprintOf, stampOf, type FileStamp } from '../../core/stamps';

export const VIDEO_EXTENSIONS = new Set([
  '.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.wmv', '.flv', '.mpg', '.mpeg', '.ts', '.mts', '.m2ts', '.3gp', '.ogv', '.qt',
]);
// Downloads and copies in progress, editors' temporaries.
const PARTIAL = /\.(part|crdownload|tmp|download|partial)$/i;

export type { FileStamp } from '../../core/stamps';

/** A file's stamp (core/stamps.ts stampOf): size and whole-millisecond mtime. */
export function fileStamp(st: fs.Stats): FileStamp {
  return stampOf(st);
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

/** Something a scan could not look at; the index keeps what it knows about it as it is. */
export interface ScanProblem {
  /** printable: bytes of a name that are not UTF-8 are written \xNN */
  path: string;
  /** outside: a symbolic link that leads out of the folder being scanned (not indexed, not an error) */
  kind: 'unreadable' | 'bad-name' | 'outside';
  /** the errno code of an unreadable folder or file (EACCES, EIO, ...) */
  code?: string;
  error: string;
}

export interface Scan {
  files: string[];
  problems: ScanProblem[];
}

/** A name's bytes as text: valid UTF-8 as it is, any other byte as \xNN (a name Node cannot open). */
export function printableName(raw: Buffer): string {
  let out = '';
  for (let i = 0; i < raw.length; ) {
    const b = raw[i];
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    const piece = n ? raw.subarray(i, i + n) : undefined;
    if (piece && piece.length === n && Buffer.from(piece.toString('utf8'), 'utf8').equals(piece)) {
      out += piece.toString('utf8');
      i += n;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i += 1;
    }
  }
  return out;
}

const BAD_NAME = 'its name is not valid UTF-8, so vidsearch cannot open it: rename it (e.g. `convmv -f latin1 -t utf8`) to index it';

/** True when Node's string for this name is not the name: opening it by that string would miss. */
function badName(raw: Buffer): boolean {
  return !Buffer.from(raw.toString('utf8'), 'utf8').equals(raw);
}

function errnoOf(err: unknown): { code: string; error: string } {
  const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  return { code, error: code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message };
}

/**
 * Video files under `dir`, recursively, sorted; hidden folders skipped, symlink loops guarded.
 * What cannot be looked at is not silently dropped: a folder that cannot be read, and a file or
 * folder whose name is not valid UTF-8 (Node turns such bytes into U+FFFD, so the name it gives
 * opens nothing), come back as problems. A folder that cannot be read is not a folder that is
 * empty: its videos must stay in the index.
 */
export function scanVideos(dir: string, seen = new Set<string>(), root?: string): Scan {
  const scan: Scan = { files: [], problems: [] };
  const unreadable = (p: string, err: unknown) => {
    const { code, error } = errnoOf(err);
    scan.problems.push({ path: p, kind: 'unreadable', code, error: `cannot read the folder (${code}: ${error})` });
  };
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unreadable(dir, err);
    return scan;
  }
  if (seen.has(real)) return scan;
  seen.add(real);
  // The library is the folder the user gave, symlinks resolved (DESIGN.md: vidsearch reads only
  // library files whose real path lies inside a library root). A link that leads out of it is not
  // followed: it would index, and let the server stream, whatever it points at.
  const top = root ?? real;
  let entries: fs.Dirent<Buffer>[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    unreadable(dir, err);
    return scan;
  }
  for (const e of entries) {
    if (e.name[0] === 0x2e) continue; // hidden: "."
    const name = e.name.toString('utf8');
    const full = path.join(dir, name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (badName(e.name)) {
      const shown = path.join(dir, printableName(e.name));
      // Non-video files with odd names are none of our business; folders might hold videos.
      if (isDir || isCandidate(full)) {
        scan.problems.push({ path: shown, kind: 'bad-name', error: BAD_NAME });
      }
      continue;
    }
    if (e.isSymbolicLink()) {
      let target: string;
      try {
        target = fs.realpathSync(full);
        const st = fs.statSync(target);
        isDir = st.isDirectory();
        isFile = st.isFile();
      } catch (err) {
        // A dangling link points at nothing; one that cannot be followed may point at videos.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unreadable(full, err);
        continue;
      }
      if ((isDir || (isFile && isCandidate(full))) && !insideRoots(target, [top])) {
        scan.problems.push({ path: full, kind: 'outside', error: `a symbolic link to ${target}, outside the library folder ${top}: not followed (index that folder itself to add it)` });
        continue;
      }
    }
    if (isDir) {
      const sub = scanVideos(full, seen, top);
      scan.files.push(...sub.files);
      scan.problems.push(...sub.problems);
    } else if (isFile && isCandidate(full)) scan.files.push(full);
  }
  scan.files.sort();
  return scan;
}

/** The entries of `dir` itself (not below) whose names are not UTF-8 and could be videos or folders. */
export function badNamesIn(dir: string): ScanProblem[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })
      .filter((e) => e.name[0] !== 0x2e && badName(e.name) && (e.isDirectory() || isCandidate(e.name.toString('utf8'))))
      .map((e) => ({ path: path.join(dir, printableName(e.name)), kind: 'bad-name', error: BAD_NAME }));
  } catch {
    return []; // gone or unreadable: the reconcile of the next start says so
  }
}

/** Video files under `dir` (see scanVideos), without the problems. */
export function walkVideos(dir: string): string[] {
  return scanVideos(dir).files;
}

export type Presence = { state: 'present' } | { state: 'gone' } | { state: 'unknown'; code: string; error: string };

/**
 * Whether a file is still there. Only "no such file" (ENOENT, or a folder on the way that became a
 * file: ENOTDIR) means gone; permission denied, I/O errors and the like mean we cannot tell, and
 * a file we cannot see is not a file that was deleted.
 */
export function presence(file: string): Presence {
  try {
    fs.statSync(file);
    return { state: 'present' };
  } catch (err) {
    const { code, error } = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'gone' };
    return { state: 'unknown', code, error };
  }
}

/** True when `real` is a root or lies below one, by whole path segments (/lib2 is not in /lib). */
export function insideRoots(real: string, roots: readonly string[]): boolean {
  return roots.some((root) => real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep));
}

/** core/stamps.ts fingerprintOf over the file's bytes. */
export function fingerprint(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(FINGERPRINT_SAMPLE);
    return fingerprintOf(fs.fstatSync(fd).size, (at) => buf.subarray(0, fs.readSync(fd, buf, 0, FINGERPRINT_SAMPLE, at)));
  } finally {
    fs.closeSync(fd);
  }
}
