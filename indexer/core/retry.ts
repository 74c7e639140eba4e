// The watch daemon's retry policy (services/daemon.ts): a transient failure (a busy database, a
// full disk, a file still changing) is tried again with exponential backoff, a bounded number of
// times; anything else is left as failed at once.

/** Whether a job that has failed `attempts` times before this failure may be tried again. */
export function mayRetry(attempts: number, maxAttempts: number): boolean {
  return attempts + 1 < maxAttempts;
}

/** The wait before attempt number `attempt` + 1 (attempt counts from 1): base, 2·base, 4·base, ... */
export function retryDelayMs(attempt: number, baseMs: number): number {
  return baseMs * 2 ** (attempt - 1);
}
