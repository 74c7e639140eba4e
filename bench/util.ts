// Small helpers for the benchmark: statistics, progress on stderr, CPU and memory readings from /proc.
import fs from 'node:fs';
import os from 'node:os';

export function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

/** Linear-interpolated quantile (q in [0, 1]). */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return s[lo] + (s[hi] - s[lo]) * (at - lo);
}

export const round = (x: number, digits = 2): number => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);

const started = Date.now();
export function log(msg: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${t}s] ${msg}\n`);
}

const CLK_TCK = 100; // Linux USER_HZ on every platform Node supports

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, seconds */
  cpu: number;
}

function readStat(pid: number | 'self'): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields after "(comm)": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17)
  const f = (n: number) => Number(rest[n - 3]);
  return { pid: Number(text.slice(0, text.indexOf(' '))), ppid: f(4), cpu: (f(14) + f(15) + f(16) + f(17)) / CLK_TCK };
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const s = readStat(Number(e));
    if (s) out.push(s);
  }
  return out;
}

/** Pids of `root` and all its live descendants. */
export function processTree(root: number = process.pid): number[] {
  const stats = allStats();
  const children = new Map<number, number[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s.pid]);
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds used by this process tree (reaped children included). */
export function treeCpu(root: number = process.pid): number {
  let sum = 0;
  for (const pid of processTree(root)) sum += readStat(pid)?.cpu ?? 0;
  return sum;
}

function busyJiffies(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK;
}

/**
 * Measures how busy the machine was with *other* work while a phase ran: the share of all cores
 * used by processes outside this benchmark's tree. Numbers taken while it is high are not clean.
 */
export class CpuWatch {
  private readonly t0 = performance.now();
  private readonly busy0 = busyJiffies();
  private readonly own0 = treeCpu();

  /** { ownCores: average cores used by the benchmark, backgroundPct: % of all cores used by others } */
  stop(): { seconds: number; ownCores: number; backgroundPct: number } {
    const seconds = (performance.now() - this.t0) / 1000;
    const busy = busyJiffies() - this.busy0;
    const own = treeCpu() - this.own0;
    const cores = os.availableParallelism();
    return { seconds, ownCores: own / seconds, backgroundPct: Math.max(0, (100 * (busy - own)) / (seconds * cores)) };
  }
}

/** Resident set size of a process tree in bytes (sum of VmRSS), 0 when gone. */
export function treeRss(root: number): number {
  let sum = 0;
  for (const pid of processTree(root)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) sum += Number(m[1]) * 1024;
    } catch {
      // exited
    }
  }
  return sum;
}

/** Waits until other processes leave at least most of the machine free, or `maxMs` passes. */
export async function waitForQuiet(maxMs = 60_000, maxBackgroundPct = 15): Promise<number> {
  const deadline = Date.now() + maxMs;
  let bg = 100;
  while (Date.now() < deadline) {
    const w = new CpuWatch();
    await new Promise((r) => setTimeout(r, 1000));
    bg = w.stop().backgroundPct;
    if (bg <= maxBackgroundPct) return bg;
  }
  return bg;
}

export const mb = (bytes: number): number => round(bytes / 1024 / 1024, 0);
