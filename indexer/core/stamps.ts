// What counts as an unchanged file: the one rule that indexing (services/pipeline.ts: indexFile and
// planTargets), tagging (services/tagging.ts), the daemon's stability wait (services/daemon.ts) and
// serving (services/library.ts) apply to a file on disk against what the index recorded; and the
// content fingerprint that tells a moved file from a new one (io/files/files.ts reads the bytes).
import { createHash } from 'node:crypto';

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

/** Bytes in each fingerprint sample. */
export const FINGERPRINT_SAMPLE = 64 * 1024;

/** Where a file of `size` bytes is sampled for its fingerprint: start, middle, end. */
export function fingerprintOffsets(size: number, sample = FINGERPRINT_SAMPLE): number[] {
  return [0, Math.max(0, Math.floor(size / 2) - sample / 2), Math.max(0, size - sample)];
}

/**
 * A file's content fingerprint (move detection: a file that vanished here and appeared there with
 * the same fingerprint was moved, not replaced): sha256 over the size and the samples at
 * fingerprintOffsets. Reads at most 192 KiB, and with the size tells a moved file from a different
 * one in practice. `read(at)` gives the bytes from `at`, up to a sample's length.
 */
export function fingerprintOf(size: number, read: (at: number) => Uint8Array, sample = FINGERPRINT_SAMPLE): string {
  const hash = createHash('sha256').update(`${size}:`);
  for (const at of fingerprintOffsets(size, sample)) hash.update(read(at));
  return hash.digest('hex');
}
