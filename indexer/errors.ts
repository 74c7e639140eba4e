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

/** A model download failed (network, HTTP status, checksum). */
export class DownloadError extends VidsearchError {
  override name = 'DownloadError';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
