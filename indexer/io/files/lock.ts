// Exclusive locks of a data directory: a lock file holding the holder's pid. Indexing takes none
// (any number of processes write; the job queue and the change log keep them apart); what stays
// exclusive is the watch daemon (watch.lock: one per data directory) and repairs and resets
// (writer.lock). A lock left by a process that no longer exists (kill -9, power loss) is taken over.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LockedError, asDiskFull } from '../../core/errors';

export interface WriterLock {
  readonly file: string;
  release(): void;
}

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  command?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(home: string, name = 'writer.lock'): LockInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(home, name), 'utf8'));
  } catch {
    return undefined;
  }
}

export const WATCH_LOCK = 'watch.lock';

// Locks this process holds: a second writer inside the same process is refused too.
const held = new Set<string>();

export function acquireWriterLock(home: string, command = process.argv.slice(2).join(' '), name = 'writer.lock'): WriterLock {
  fs.mkdirSync(home, { recursive: true });
  const file = path.join(home, name);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(info), { flag: 'wx' });
      held.add(file);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        held.delete(file);
        process.off('exit', release);
        const current = readLock(home, name);
        if (current?.pid === process.pid) fs.rmSync(file, { force: true });
      };
      process.on('exit', release);
      return { file, release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        // Created but not written (a full disk): an empty lock must not be left behind.
        if (fs.existsSync(file) && fs.statSync(file).size === 0) fs.rmSync(file, { force: true });
        throw asDiskFull(err, home) ?? err;
      }
      const holder = readLock(home, name);
      const ours = holder?.pid === process.pid && held.has(file);
      if (holder && holder.host === os.hostname() && (ours || (holder.pid !== process.pid && alive(holder.pid)))) {
        throw new LockedError(
          `another vidsearch process (pid ${holder.pid}${holder.command ? `, "${holder.command}"` : ''}, since ${holder.startedAt}) ${name === WATCH_LOCK ? 'is watching' : 'is repairing or resetting'} ${home}: ` +
            (name === WATCH_LOCK ? 'only one watch daemon per data directory (VIDSEARCH_HOME): add folders with `vidsearch library add` instead' : 'wait for it to finish or stop it'),
          { cause: { home, holder } },
        );
      }
      // Stale: the holder is gone (or the file is unreadable half-written junk).
      fs.rmSync(file, { force: true });
    }
  }
  throw new LockedError(`could not take the writer lock ${file}`, { cause: { home } });
}

/** True when some live process holds the writer lock. */
export function writerActive(home: string, name = 'writer.lock'): boolean {
  const holder = readLock(home, name);
  return !!holder && holder.host === os.hostname() && alive(holder.pid);
}
