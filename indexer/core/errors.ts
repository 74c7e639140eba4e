// A small family of typed errors. Each has a stable `name`, a message that says what to do, and
// a structured `cause` so callers (CLI, HTTP routes, the daemon) can map them without parsing text.

export type ErrorCause = Record<string, unknown> | Error | undefined;

export class VidsearchError extends Error {
  override name = 'VidsearchError';
  constructor(message: string, options?: { cause?: ErrorCause }) {
    super(message, options);
  }
}

/** Bad flags or arguments: CLI exit code 2, HTTP 400. */
export class UsageError extends VidsearchError {
  override name = 'UsageError';
}

/**
 * An argument names something the library does not have (a video id, a moment past a video's
 * end is a UsageError instead): HTTP 404; on the command line a usage error (exit 2).
 */
export class NotFoundError extends UsageError {
  override name = 'NotFoundError';
}

/** The model folder is missing, incomplete or does not match the contract. */
export class ModelError extends VidsearchError {
  override name = 'ModelError';
}

/** ffmpeg/ffprobe missing, or a file that is not a usable video. */
export class MediaError extends VidsearchError {
  override name = 'MediaError';
}

/** Database, index file, lock, or model-identity problems in the data directory. */
export class StoreError extends VidsearchError {
  override name = 'StoreError';
}

/**
 * A row of the database that cannot be what it claims (a vector of the wrong byte length, an
 * identity that does not parse): `cause` names the table, the row and the column; the message
 * names the command that repairs it.
 */
export class DataError extends StoreError {
  override name = 'DataError';
  constructor(message: string, options: { cause: { table: string; row: number | string; column: string } & Record<string, unknown> }) {
    super(message, options);
  }
}

/** Another process holds the writer lock of the data directory. */
export class LockedError extends StoreError {
  override name = 'LockedError';
}

/**
 * A library file that is not served: the video is not indexed, or its file is missing, outside
 * every library root (symlinks resolved), or not a regular file. HTTP 404.
 */
export class FileNotServedError extends VidsearchError {
  override name = 'FileNotServedError';
}

/** A library file that changed since it was indexed (size or mtime differ): HTTP 409. */
export class FileChangedError extends VidsearchError {
  override name = 'FileChangedError';
}

/**
 * The file system holding `path` is full (ENOSPC, EDQUOT, SQLITE_FULL). Never a file's fault: an
 * indexing run stops on it (nothing is recorded against the video), and the daemon retries later.
 */
export class DiskFullError extends StoreError {
  override name = 'DiskFullError';
  readonly kind = 'disk-full';
  constructor(
    /** the file or folder being written when the disk filled up */
    readonly path: string,
    options?: { cause?: ErrorCause },
  ) {
    super(`the disk holding ${path} is full: free some space there and run again`, options);
  }
}

/**
 * ffmpeg/ffprobe themselves failed: missing, not executable, or killed by a signal (a crash).
 * Never recorded against the file being read: with a working tool it may index fine.
 */
export class ToolError extends MediaError {
  override name = 'ToolError';
  constructor(
    message: string,
    readonly detail: {
      /** crashed: on this file (the tool still runs); lacks-filter: this file needs a filter the build lacks */
      kind: 'missing' | 'cannot-run' | 'crashed' | 'lacks-filter';
      tool: string;
      /** the binary */
      path?: string;
      /** the file it was reading when it crashed */
      file?: string;
      signal?: string;
      version?: string;
      filter?: string;
    },
    options?: { cause?: ErrorCause },
  ) {
    super(message, { cause: options?.cause ?? detail });
  }
}

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/**
 * The DiskFullError for `err` when it (or an error in its cause chain) is a full disk, by its
 * error code, never its message; `where` names the place written when the error does not.
 */
export function asDiskFull(err: unknown, where: string): DiskFullError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DiskFullError) return e;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && DISK_FULL_CODES.has(code)) return new DiskFullError((e as NodeJS.ErrnoException).path ?? where, { cause: e });
  }
  return undefined;
}

// Causes that may go away by themselves: busy files and databases, resource limits, a full disk.
const TRANSIENT_CODES = new Set(['EBUSY', 'EAGAIN', 'EMFILE', 'ENFILE', 'ETIMEDOUT', 'SQLITE_BUSY', ...DISK_FULL_CODES]);

/**
 * Whether retrying later may succeed, decided from the error's type and codes (never its text):
 * a full disk, busy resources, a tool that timed out. The daemon retries these with backoff.
 */
export function isTransientError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DiskFullError) return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    // Prisma's driver adapters carry the database's own code in the cause (SQLITE_BUSY).
    const original = (e as { cause?: { originalCode?: unknown } }).cause?.originalCode;
    if (typeof original === 'string' && TRANSIENT_CODES.has(original)) return true;
    if (e instanceof MediaError && typeof (e.cause as { timeoutMs?: unknown } | undefined)?.timeoutMs === 'number') return true;
  }
  return false;
}

/** A model download failed (network, HTTP status, checksum). */
export class DownloadError extends VidsearchError {
  override name = 'DownloadError';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
