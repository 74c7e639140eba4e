// Paths as the database holds them: which ones lie below a folder (a range query on the path
// index), and how a worker on another machine maps the database's paths to its own mount point
// and back (VIDSEARCH_PATH_MAP). Pure string rules; services/config.ts parses the setting, the
// indexing path (services/pipeline.ts, plan.ts) applies it.

/**
 * The range of paths below a folder, by whole path segments ("/a/b" has /a/b/x, not /a/bc): every
 * path p below `dir` has from <= p < to in byte order (a database must compare them bytewise:
 * COLLATE "C" on PostgreSQL).
 */
export function pathRange(dir: string): [from: string, to: string] {
  const sep = dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
  const base = dir.endsWith(sep) ? dir : dir + sep;
  return [base, base.slice(0, -1) + String.fromCharCode(sep.charCodeAt(0) + 1)];
}

/** One mapping: a folder as the database records it (`stored`) is `local` on this machine. */
export interface PathMapping {
  stored: string;
  local: string;
}

/**
 * Parses "<stored>=<local>[;<stored>=<local>…]" (',' also separates: a path holding ';' or ','
 * or '=' cannot be mapped, which is why those are the separators and not ':'). Trailing slashes
 * are dropped; the longest matching folder wins, so nested mappings work in any order.
 * Throws an Error naming the first bad entry.
 */
export function parsePathMap(value: string): PathMapping[] {
  const entries = value.split(/[;,]/).map((e) => e.trim()).filter(Boolean);
  const out: PathMapping[] = [];
  for (const e of entries) {
    const parts = e.split('=').map((p) => p.trim());
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`"${e}" is not <stored folder>=<local folder>`);
    if (!parts.every((p) => p.startsWith('/'))) throw new Error(`"${e}": both folders must be absolute paths`);
    const [stored, local] = parts.map(trimSlash);
    if (out.some((m) => m.stored === stored)) throw new Error(`"${stored}" is mapped twice`);
    out.push({ stored: stored!, local: local! });
  }
  return out;
}

const trimSlash = (p: string): string => p.replace(/\/+$/, '') || '/';

function swap(p: string, map: readonly PathMapping[], from: 'stored' | 'local', to: 'stored' | 'local'): string {
  let best: PathMapping | undefined;
  for (const m of map) {
    const prefix = m[from];
    const inside = p === prefix || p.startsWith(prefix === '/' ? '/' : prefix + '/');
    if (inside && (!best || prefix.length > best[from].length)) best = m;
  }
  if (!best) return p;
  const rest = p.slice(best[from] === '/' ? 0 : best[from].length);
  return best[to] === '/' ? rest || '/' : best[to] + rest;
}

/** The path this machine opens for a path the database holds (unchanged outside every mapping). */
export const toLocalPath = (stored: string, map: readonly PathMapping[]): string => (map.length ? swap(stored, map, 'stored', 'local') : stored);

/** The path the database records for a file this machine found (unchanged outside every mapping). */
export const toStoredPath = (local: string, map: readonly PathMapping[]): string => (map.length ? swap(local, map, 'local', 'stored') : local);
