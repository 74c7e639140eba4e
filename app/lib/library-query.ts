// The library page's state, all of it in the URL (?status=&sort=&folder=&name=&page=), so a view
// can be linked, reloaded and used without JavaScript. A value that does not parse is ignored (the
// default applies): a hand-edited link still shows the library.
import { z } from 'zod';
import { VIDEO_STATUSES, type VideoSort, type VideoStatus } from '@/indexer';
import { intParam } from '@/app/lib/http';

export const LIBRARY_SORTS = { name: 'Name (A to Z)', date: 'Newest file first', duration: 'Longest first' } as const satisfies Partial<Record<VideoSort, string>>;
export type LibrarySort = keyof typeof LIBRARY_SORTS;
// Every status (VIDEO_STATUSES), in the order the page offers them.
const STATUS_ORDER: Record<VideoStatus, number> = { indexed: 0, failed: 1, pending: 2 };
export const LIBRARY_STATUSES: readonly VideoStatus[] = [...VIDEO_STATUSES].sort((a, b) => STATUS_ORDER[a] - STATUS_ORDER[b]);

const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .transform((s) => s || undefined)
    .optional()
    .catch(undefined);

const LibraryQuery = z.object({
  status: z.enum(LIBRARY_STATUSES as [VideoStatus, ...VideoStatus[]]).optional().catch(undefined),
  sort: z.enum(Object.keys(LIBRARY_SORTS) as [LibrarySort, ...LibrarySort[]]).default('name').catch('name'),
  folder: optionalText(4096),
  name: optionalText(200),
  page: intParam('page', 1, 1_000_000).default(1).catch(1),
});

export type LibraryState = z.output<typeof LibraryQuery>;

/** The page's search params as a state; a repeated parameter counts once (its first value). */
export function parseLibraryQuery(sp: Record<string, string | string[] | undefined>): LibraryState {
  const flat = Object.fromEntries(Object.entries(sp).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
  return LibraryQuery.parse(flat);
}

/**
 * The canonical link of what `sp` asks for when `sp` is not it (empty fields of a submitted form,
 * defaults spelled out, nonsense ignored), so that every view has one short URL; else null.
 */
export function canonicalLibraryHref(sp: Record<string, string | string[] | undefined>): string | null {
  const raw = new URLSearchParams(Object.entries(sp).flatMap(([k, v]) => (v === undefined ? [] : [v].flat().map((x) => [k, x]))));
  const href = libraryHref(parseLibraryQuery(sp));
  return href === (raw.size ? `/library?${raw}` : '/library') ? null : href;
}

/** The link to `state` with `change` applied; changing what is shown starts again at page 1. */
export function libraryHref(state: LibraryState, change: Partial<LibraryState> = {}): string {
  const next = { ...state, page: 1, ...change };
  const p = new URLSearchParams();
  // The order of the form's fields, so that a submitted form is mostly canonical already.
  if (next.status) p.set('status', next.status);
  if (next.name) p.set('name', next.name);
  if (next.folder) p.set('folder', next.folder);
  if (next.sort !== 'name') p.set('sort', next.sort);
  if (next.page > 1) p.set('page', String(next.page));
  const qs = p.toString();
  return qs ? `/library?${qs}` : '/library';
}

/**
 * The folders one can filter by: the library roots and every folder that holds a video, each
 * with the number of videos anywhere below it.
 */
export function folderOptions(roots: readonly string[], dirs: ReadonlyArray<{ dir: string; videos: number }>): Array<{ dir: string; videos: number }> {
  const below = (folder: string, dir: string) => dir === folder || dir.startsWith(/[\\/]$/.test(folder) ? folder : `${folder}/`) || dir.startsWith(`${folder}\\`);
  const all = [...new Set([...roots, ...dirs.map((d) => d.dir)])].sort();
  return all.map((folder) => ({ dir: folder, videos: dirs.reduce((n, d) => n + (below(folder, d.dir) ? d.videos : 0), 0) })).filter((f) => f.videos > 0);
}
