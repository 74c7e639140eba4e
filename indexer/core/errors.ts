// A small family of typed errors. Each has a stable `name`, a message that says what to do, and
// a structured `cause` so callers (CLI, HTTP routes, the daemon) can map them without parsing text.

export type ErrorCause = Record<string, unknown> | Error | undefined;

/**
 * What went wrong, as callers branch on it (never on the message): every VidsearchError has one,
 * set where it is raised. Read it with errorKind(), which works across bundles (Next.js may load
 * two copies of this file, so `instanceof` and class identity are not reliable there).
 */
export const ERROR_KINDS = [
  /** bad flags, arguments or request fields */
  'usage',
  /** an argument names something the library does not have */
  'not-found',
  /** the model folder is missing, incomplete or does not match the contract */
  'model',
  /** the file is not a video ffmpeg can read (its fault, recorded against it) */
  'not-a-video',
  /** the file is not a picture ffmpeg can read */
  'not-an-image',
  /** the picture has too many pixels */
  'too-large',
  /** ffmpeg/ffprobe ran past its time limit: may succeed later */
  'timeout',
  /** ffmpeg/ffprobe cannot be run at all: not found, not executable, or broken (detail.kind says which) */
  'tool-missing',
  /** ffmpeg/ffprobe crashed on this input (still runs otherwise) */
  'tool-crashed',
  /** the ffmpeg build lacks a filter this input needs */
  'tool-lacks-filter',
  /** database, index file or identity problems in the data directory */
  'store',
  /** a row of the database that cannot be what it claims */
  'data',
  /** another process holds the writer lock */
  'locked',
  /** the file system is full */
  'disk-full',
  /** a library file that is not served */
  'file-not-served',
  /** a library file that changed since it was indexed */
  'file-changed',
  /** a model download failed */
  'download',
  /** a library must be a folder, and this is not one (or does not exist) */
  'not-a-folder',
  /** a library inside another library, or holding one */
  'nested-library',
  /** anything else the engine raised */
  'other',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class VidsearchError extends Error {
  override name = 'VidsearchError';
  /** the kind each class raises unless the raiser says otherwise */
  static defaultKind: ErrorKind = 'other';
  readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: ErrorCause; kind?: ErrorKind }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options?.kind ?? (new.target as unknown as typeof VidsearchError).defaultKind;
  }
}

/** The kind of an engine error, by its `kind` field (not instanceof: see ERROR_KINDS); undefined for other errors. */
export function errorKind(err: unknown): ErrorKind | undefined {
  const kind = (err as { kind?: unknown } | null | undefined)?.kind;
  return err instanceof Error && typeof kind === 'string' && (ERROR_KINDS as readonly string[]).includes(kind) ? (kind as ErrorKind) : undefined;
}

/** Bad flags or arguments: CLI exit code 2, HTTP 400. */
export class UsageError extends VidsearchError {
  override name = 'UsageError';
  static override defaultKind: ErrorKind = 'usage';
}

/**
 * An argument names something the library does not have (a video id, a moment past a video's
 * end is a UsageError instead): HTTP 404; on the command line a usage error (exit 2).
 */
export class NotFoundError extends UsageError {
  override name = 'NotFoundError';
  static override defaultKind: ErrorKind = 'not-found';
}

/** The model folder is missing, incomplete or does not match the contract. */
export class ModelError extends VidsearchError {
  override name = 'ModelError';
  static override defaultKind: ErrorKind = 'model';
}

/** ffmpeg/ffprobe missing, or a file that is not a usable video. */
export class MediaError extends VidsearchError {
  override name = 'MediaError';
  static override defaultKind: ErrorKind = 'not-a-video';
}

/** Database, index file, lock, or model-identity problems in the data directory. */
export class StoreError extends VidsearchError {
  override name = 'StoreError';
  static override defaultKind: ErrorKind = 'store';
}

/**
 * A row of the database that cannot be what it claims (a vector of the wrong byte length, an
 * identity that does not parse): `cause` names the table, the row and the column; the message
 * names the command that repairs it.
 */
export class DataError extends StoreError {
  override name = 'DataError';
  static override defaultKind: ErrorKind = 'data';
  constructor(message: string, options: { cause: { table: string; row: number | string; column: string } & Record<string, unknown> }) {
    super(message, options);
  }
}

/** Another process holds the writer lock of the data directory. */
export class LockedError extends StoreError {
  override name = 'LockedError';
  static override defaultKind: ErrorKind = 'locked';
}

/**
 * A library file that is not served: the video is not indexed, or its file is missing, outside
 * every library root (symlinks resolved), or not a regular file. HTTP 404.
 */
export class FileNotServedError extends VidsearchError {
  override name = 'FileNotServedError';
  static override defaultKind: ErrorKind = 'file-not-served';
}

/** A library file that changed since it was indexed (size or mtime differ): HTTP 409. */
export class FileChangedError extends VidsearchError {
  override name = 'FileChangedError';
  static override defaultKind: ErrorKind = 'file-changed';
}

/**
 * The file system holding `path` is full (ENOSPC, EDQUOT, SQLITE_FULL). Never a file's fault: an
 * indexing run stops on it (nothing is recorded against the video), and the daemon retries later.
 */
export class DiskFullError extends StoreError {
  override name = 'DiskFullError';
  static override defaultKind: ErrorKind = 'disk-full';
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
    super(message, { cause: options?.cause ?? detail, kind: TOOL_KINDS[detail.kind] });
  }
}

const TOOL_KINDS = { missing: 'tool-missing', 'cannot-run': 'tool-missing', crashed: 'tool-crashed', 'lacks-filter': 'tool-lacks-filter' } as const satisfies Record<ToolError['detail']['kind'], ErrorKind>;

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
    if (errorKind(e) === 'timeout') return true;
  }
  return false;
}

/** A model download failed (network, HTTP status, checksum). */
export class DownloadError extends VidsearchError {
  override name = 'DownloadError';
  static override defaultKind: ErrorKind = 'download';
}

// SQLite's result codes for a damaged database file.
const DAMAGE_CODES = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB']);
// Prisma's migration and query errors carry only SQLite's text (no code: the cause is a plain
// object), so for those SQLite's own words are the source of truth; they are matched here, once,
// and nowhere else. (Move this to io/db, setting a kind where the error is raised, once the store
// wraps its driver errors.)
const DAMAGE_TEXT = /database disk image is malformed|file is not a database|SQLITE_CORRUPT|SQLITE_NOTADB/;

/** Whether `err` (or its cause chain) says the SQLite database file is damaged. */
export function isDatabaseDamage(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && DAMAGE_CODES.has(code)) return true;
    const original = (e as { cause?: { originalCode?: unknown } }).cause?.originalCode;
    if (typeof original === 'string' && DAMAGE_CODES.has(original)) return true;
    if (DAMAGE_TEXT.test(e.message)) return true;
  }
  return false;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A folder that cannot be a library (kind not-a-folder, nested-library), or no such library (not-found). */
export class LibraryError extends VidsearchError {
  override name = 'LibraryError';
  static override defaultKind: ErrorKind = 'not-found';
}
