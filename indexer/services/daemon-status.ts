// What the watch daemon (daemon.ts) tells the outside: its status file, read by `stats` and the
// web app, and its log lines.
import fs from 'node:fs';
import path from 'node:path';
import { WATCH_LOCK, readLock } from '../io/files/lock';

export interface LogEntry {
  event: string;
  path?: string;
  [key: string]: unknown;
}

export interface DaemonStatus {
  pid: number;
  startedAt: string;
  updatedAt: string;
  state: 'starting' | 'reconciling' | 'working' | 'idle' | 'stopping' | 'stopped';
  dirs: string[];
  queue: number;
  current: string[];
  indexed: number;
  recentFailures: Array<{ path: string; error: string; at: string }>;
}

export function statusFile(home: string): string {
  return path.join(home, 'daemon.json');
}

/** The running daemon's status, or undefined when none is running for this data directory. */
export function readDaemonStatus(home: string): DaemonStatus | undefined {
  try {
    const status: DaemonStatus = JSON.parse(fs.readFileSync(statusFile(home), 'utf8'));
    const lock = readLock(home, WATCH_LOCK);
    if (status.state === 'stopped' || lock?.pid !== status.pid) return undefined;
    process.kill(status.pid, 0);
    return status;
  } catch {
    return undefined;
  }
}

/** One line per event: JSON when the stream is not a terminal (for log collectors), text otherwise. */
export function lineLogger(stream: NodeJS.WriteStream = process.stderr): (e: LogEntry) => void {
  return (e) => {
    const ts = new Date().toISOString();
    if (!stream.isTTY) {
      stream.write(JSON.stringify({ ts, ...e }) + '\n');
      return;
    }
    const { event, path: p, ...rest } = e;
    const details = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    stream.write(`${ts.slice(11, 19)} ${event.padEnd(10)} ${p ?? ''} ${details}\n`);
  };
}
