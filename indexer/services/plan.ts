// What an indexing run has to do, decided before any decoding: which files are new or changed,
// which unchanged (core/stamps.ts), which indexed videos are gone, and what could not be looked at.
// The indexer (pipeline.ts) and the watch daemon's reconciling run it.
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../core/errors';
import { unchangedReason, type FileStamp } from '../core/stamps';
import { fileStamp, presence, scanVideos, type ScanProblem } from '../io/files/files';
import type { Store, VideoRecord } from '../io/db/store';
import { toLocalPath, toStoredPath, type PathMapping } from '../core/paths';

export interface TargetPlan {
  /** files that need work (new, changed, or failed and to be retried), with their stamps */
  work: Array<{ path: string } & FileStamp>;
  /** unchanged files, decided by stat alone */
  unchanged: Array<{ path: string; reason: string }>;
  /** indexed videos whose file is gone (unless it turns out to have moved) */
  gone: VideoRecord[];
  /** targets that do not exist and were never indexed */
  missing: string[];
  /**
   * folders and files that could not be looked at (unreadable, names that are not UTF-8): what
   * the index holds under them stays as it is
   */
  problems: ScanProblem[];
}

/**
 * Decides what a set of files and folders needs, from one stat per file and one query per folder:
 * unchanged files cost no database round trip, so reconciling a large library is quick.
 * Targets and the plan's paths are the database's; the file system is looked at where `map`
 * (VIDSEARCH_PATH_MAP) mounts them here. Problems name this machine's paths: they are for its user.
 */
export async function planTargets(store: Store, targets: string[], opts: { force?: boolean; retryFailed?: boolean } = {}, map: readonly PathMapping[] = []): Promise<TargetPlan> {
  const local = (p: string) => toLocalPath(p, map);
  const stored = (p: string) => toStoredPath(p, map);
  const plan: TargetPlan = { work: [], unchanged: [], gone: [], missing: [], problems: [] };
  const seen = new Set<string>();
  const unreadable = (p: string, err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    plan.problems.push({ path: p, kind: 'unreadable', code, error: `cannot read it (${errorMessage(err)}); the index keeps what it had` });
  };
  const statOf = (p: string): fs.Stats | undefined | 'unreadable' => {
    try {
      return fs.statSync(p, { throwIfNoEntry: false });
    } catch (err) {
      unreadable(p, err);
      return 'unreadable';
    }
  };
  const consider = (file: string, known: VideoRecord | undefined) => {
    if (seen.has(file)) return;
    seen.add(file);
    const st = statOf(local(file));
    if (!st || st === 'unreadable') return;
    const stamp = fileStamp(st);
    const reason = unchangedReason(known, stamp, opts);
    if (reason) plan.unchanged.push({ path: file, reason });
    else plan.work.push({ path: file, ...stamp });
  };
  for (const target of targets.map((t) => path.resolve(t))) {
    const st = statOf(local(target));
    if (st === 'unreadable') continue;
    if (st?.isDirectory()) {
      const known = new Map((await store.videosUnder(target)).map((v) => [v.path, v]));
      const scan = scanVideos(local(target));
      const files = scan.files.map(stored);
      for (const file of files) consider(file, known.get(file));
      const present = new Set(files);
      const folders = scan.problems.filter((p) => p.kind === 'unreadable').map((p) => stored(p.path) + path.sep);
      const kept = new Map<string, number>();
      const outside = scan.problems.filter((p) => p.kind === 'outside').map((p) => stored(p.path));
      for (const v of known.values()) {
        if (present.has(v.path)) continue;
        // Reached through a link out of the library (indexed before links were checked): not a
        // library file, so it leaves the index; the file itself is not touched.
        if (outside.some((o) => v.path === o || v.path.startsWith(o + path.sep))) {
          plan.gone.push(v);
          continue;
        }
        // Only a file known to be gone leaves the index; one we cannot see is kept as it is.
        const now = presence(local(v.path));
        if (now.state === 'gone') plan.gone.push(v);
        else if (now.state === 'unknown') {
          const folder = folders.find((f) => v.path.startsWith(f));
          if (folder) kept.set(folder, (kept.get(folder) ?? 0) + 1);
          else plan.problems.push({ path: v.path, kind: 'unreadable', code: now.code, error: `cannot tell whether it still exists (${now.code}: ${now.error}); kept in the index as it is` });
        }
      }
      for (const p of scan.problems) {
        const n = p.kind === 'unreadable' ? (kept.get(stored(p.path) + path.sep) ?? 0) : 0;
        plan.problems.push(n ? { ...p, error: `${p.error}; its ${n} indexed ${n === 1 ? 'video stays in the index as it is' : 'videos stay in the index as they are'}` } : p);
      }
    } else if (st) {
      consider(target, (await store.videoByPath(target)) ?? undefined);
    } else {
      const known = await store.videoByPath(target);
      if (known) plan.gone.push(known);
      else plan.missing.push(target);
    }
  }
  return plan;
}
