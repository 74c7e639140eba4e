// What counts as an unchanged file: the one rule that indexing (services/pipeline.ts: indexFile and
// planTargets), tagging (services/tagging.ts), the daemon's stability wait (services/daemon.ts) and
// serving (services/library.ts) apply to a file on disk against what the index recorded.

export interface FileStamp {
  size: number;
  mtimeMs: number;
}

/**
 * A file's identity besides its path: size and whole-millisecond mtime. Sub-millisecond digits do
 * not survive the database round trip, and no copy tool preserves them anyway.
 */
export function stampOf(st: { size: number; mtimeMs: number }): FileStamp {
  return { size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
}

/** Same size and same mtime: the file is taken to be the one recorded (or seen last time). */
export function sameStamp(a: FileStamp | null | undefined, b: FileStamp | null | undefined): boolean {
  return !!a && !!b && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

export interface KnownFile extends FileStamp {
  status: string;
  error?: string | null;
}

/**
 * Why an indexing run leaves a file alone, or undefined when it (re)indexes it: unchanged and
 * indexed, or unchanged and failed before (unless failures are retried). `force` indexes anyway.
 */
export function unchangedReason(known: KnownFile | null | undefined, stamp: FileStamp, opts: { force?: boolean; retryFailed?: boolean } = {}): string | undefined {
  if (opts.force || !known || !sameStamp(known, stamp)) return undefined;
  if (known.status === 'indexed') return 'unchanged';
  if (known.status === 'failed' && !opts.retryFailed) return `unchanged, failed earlier: ${known.error}`;
  return undefined;
}
