// A folder of rebuildable files kept to a disk budget, least recently used first: the web app's
// thumbnails and the label vectors. "Used" is the access time, which a hit sets itself (many
// disks are mounted noatime or relatime), or the content time when that is later.
import fs from 'node:fs';
import path from 'node:path';

export interface PruneReport {
  /** the cache's files (those `match` selects) before pruning, and their bytes */
  files: number;
  bytes: number;
  removed: number;
  freed: number;
}

export interface PruneOptions {
  /** which names in the folder are the cache's (others are left alone and not counted) */
  match: (name: string) => boolean;
  /** names never removed (they still count toward the budget) */
  keep?: (name: string) => boolean;
}

/**
 * Marks a cached file used: its access time now, its content time unchanged. Passed in seconds,
 * not as a Date, which would drop the sub-millisecond part of the content time.
 */
export async function markUsed(file: string): Promise<void> {
  await fs.promises
    .stat(file)
    .then((st) => fs.promises.utimes(file, Date.now() / 1000, st.mtimeMs / 1000))
    .catch(() => {}); // gone meanwhile (pruned by another process): nothing to mark
}

/**
 * When the folder's cache files exceed `maxBytes`, deletes the least recently used until they take
 * at most 80 % of it: pruning lists the whole folder, so it should not be needed again at once.
 */
export async function pruneLeastRecentlyUsed(dir: string, maxBytes: number, opts: PruneOptions): Promise<PruneReport> {
  const names = (await fs.promises.readdir(dir).catch(() => [] as string[])).filter(opts.match);
  const entries = (
    await Promise.all(
      names.map(async (name) => {
        const st = await fs.promises.stat(path.join(dir, name)).catch(() => null);
        return st?.isFile() ? { name, size: st.size, used: Math.max(st.atimeMs, st.mtimeMs) } : null;
      }),
    )
  ).filter((e) => e !== null);
  let bytes = entries.reduce((sum, e) => sum + e.size, 0);
  const report = { files: entries.length, bytes, removed: 0, freed: 0 };
  if (bytes <= maxBytes) return report;
  entries.sort((a, b) => a.used - b.used);
  for (const e of entries) {
    if (bytes <= maxBytes * 0.8) break;
    if (opts.keep?.(e.name)) continue;
    await fs.promises.rm(path.join(dir, e.name), { force: true });
    bytes -= e.size;
    report.removed++;
    report.freed += e.size;
  }
  return report;
}
