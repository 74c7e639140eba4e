// Display formatting shared by server pages and client leaves; pure, so both can import it.
import type { FileState } from '@/indexer/client';

/** 75.4 → "1:15"; 3725 → "1:02:05". Seconds are floored: a moment at 4.9 s shows where it starts. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function duration(seconds: number | null): string {
  return seconds === null ? 'unknown length' : clock(seconds);
}

/** The last path component, for either separator: paths come from the indexing machine. */
export function fileName(p: string): string {
  return p.split(/[\\/]/).pop() || p;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** plural(1, 'video') → "1 video"; plural(3, 'video') → "3 videos" */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function score(s: number): string {
  return s.toFixed(2);
}

/** The 0-100 match score of a result (indexer/core/relevance.ts); "–" when it could not be judged. */
export function match(m: number | null): string {
  return m === null ? '–' : String(m);
}

/** A probability as a whole percentage: 0.624 → "62%"; under half a percent → "<1%". */
export function percent(p: number): string {
  return p < 0.005 ? '<1%' : `${Math.round(p * 100)}%`;
}

/** A file's state (engine.fileStates) in a few words, for a badge; null when all is well. */
export function fileStateLabel(state: FileState): string | null {
  const labels: Record<FileState, string | null> = {
    ok: null,
    missing: 'file missing',
    changed: 'file changed',
    outside: 'outside the library',
    unreadable: 'file unreadable',
    unverified: 'file not checked',
  };
  return labels[state];
}

/** Why the file of a video is not played, and what to do about it. */
export function fileStateNote(state: Exclude<FileState, 'ok'>): string {
  switch (state) {
    case 'missing':
      return 'The file is gone from disk. Indexing its folder again removes it from the index.';
    case 'changed':
      return 'The file changed since it was indexed. Indexing its folder again indexes it anew.';
    case 'outside':
      return 'The file (symlinks resolved) lies outside every library folder, so it is not served.';
    case 'unreadable':
      return 'The file cannot be read: it is not a regular file, or the server has no permission.';
    case 'unverified':
      return 'No library folders are recorded for this data directory (it was indexed by an older vidsearch). Index each library folder once more (unchanged files are skipped, nothing is decoded), this one with:';
  }
}

/** The folder part of a path, for either separator; "." for a bare name. */
export function folderOf(p: string): string {
  const cut = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return cut > 0 ? p.slice(0, cut) : cut === 0 ? p[0] : '.';
}

/** A path as one POSIX shell word, quoted only when it needs to be, so a shown command can be pasted. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command that brings a video's row in step with its file: indexing its folder re-indexes a
 * changed file, removes a missing one, and (retryFailed) tries a failed one again.
 */
export function indexCommand(videoPath: string, { retryFailed = false } = {}): string {
  return `vidsearch index ${retryFailed ? '--retry-failed ' : ''}${shellWord(folderOf(videoPath))}`;
}

/** Whether indexing the folder again is what fixes a file in this state. */
export function reindexFixes(state: FileState): boolean {
  return state === 'missing' || state === 'changed' || state === 'unverified';
}
