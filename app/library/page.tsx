// The library: every video with its thumbnail, sorted, filtered by folder, status and name, paged;
// all state in the URL. Outside the (browse) group on purpose: its loading boundary streams the page,
// and streamed content stays hidden without JavaScript, while this page's form must work without it.
import fs from 'node:fs';
import type { Metadata } from 'next';
import Form from 'next/form';
import Link from 'next/link';
import { redirect } from 'next/navigation';
import { databaseKind, sqlitePath, type FileState, type VideoRecord } from '@/indexer';
import { bytes, duration, fileName, fileStateLabel, plural } from '@/app/lib/format';
import { LIBRARY_SORTS, LIBRARY_STATUSES, canonicalLibraryHref, folderOptions, libraryHref, parseLibraryQuery } from '@/app/lib/library-query';
import { EngineUnavailable, libraryOrError } from '@/app/ui/engine-unavailable';
import { LibraryManager } from '@/app/ui/library-manager';

export const metadata: Metadata = { title: 'Library' };

const PAGE_SIZE = 200;

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

// Past the first frame, which is often black or a title card.
const thumbTime = (v: VideoRecord) => Math.floor((v.duration ?? 0) * 2.5) / 10;

/** The video's picture when its file can be served (the thumbnail route's rule), else why not. */
function Thumb({ video, state }: { video: VideoRecord; state: FileState }) {
  if (video.status === 'indexed' && state === 'ok') {
    return <img className="library-thumb" data-testid="library-thumb" src={`/api/videos/${video.id}/thumbnail?t=${thumbTime(video)}`} alt="" loading="lazy" decoding="async" width={160} height={90} />;
  }
  return (
    <span className="library-thumb library-thumb-none" aria-hidden="true">
      {video.status === 'indexed' ? fileStateLabel(state) : video.status}
    </span>
  );
}

export default async function LibraryPage({ searchParams }: Props) {
  const sp = await searchParams;
  const canonical = canonicalLibraryHref(sp);
  if (canonical) redirect(canonical);
  const state = parseLibraryQuery(sp);
  const { status, sort, folder: dir, name, page } = state;

  // No model needed to list the library: it works while the model is still downloading.
  const { library: engine, error } = await libraryOrError();
  if (!engine) return <EngineUnavailable message={error} />;
  const query = { dir, name };
  const [stats, videos, counts, folders] = await Promise.all([
    engine.store.summary(),
    engine.store.videos({ status, ...query, sort, offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE }),
    // The status chips count what the folder and name filters leave.
    Promise.all([undefined, ...LIBRARY_STATUSES].map((s) => engine.store.countVideos({ ...query, status: s }))),
    Promise.all([engine.libraryRoots(), engine.store.videoFolders()]).then(([roots, dirs]) => folderOptions(roots, dirs)),
  ]);
  const countOf = (s: (typeof LIBRARY_STATUSES)[number] | undefined) => counts[s ? LIBRARY_STATUSES.indexOf(s) + 1 : 0];
  // How the page tells that a file changed or went since indexing.
  const fileStates = await engine.fileStates(videos);
  const total = countOf(status);
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const filtered = Boolean(dir || name);
  // A PostgreSQL server's size is its operator's to watch; a SQLite file's is this page's to show.
  const dbBytes = databaseKind(engine.cfg.databaseUrl) === 'sqlite' ? (fs.statSync(sqlitePath(engine.cfg.databaseUrl), { throwIfNoEntry: false })?.size ?? 0) : undefined;
  const model = engine.identity?.model;

  return (
    <>
      <h1>Library</h1>
      <p className="library-summary" data-testid="library-summary">
        {plural(stats.videos.total, 'video')}: {stats.videos.indexed} indexed, {stats.videos.failed} failed, {stats.videos.pending} pending
        <br />
        {model ? `Model ${model.name} (${model.variant}, ${model.dim}-d, ${engine.identity!.pooling} pooling)` : 'No model recorded yet'} · index {plural(stats.index.vectors, 'segment vector')},{' '}
        {bytes(stats.index.bytes)} · database {dbBytes === undefined ? `PostgreSQL (${stats.index.search})` : bytes(dbBytes)}
      </p>
      <LibraryManager />

      {stats.videos.total > 0 && (
        // A plain GET form: without JavaScript it reloads the page with the new URL. Keyed by the
        // URL so that its fields show the new state after a client-side navigation (a chip, Clear).
        <Form key={libraryHref(state)} action="/library" className="library-controls" data-testid="library-controls">
          {status && <input type="hidden" name="status" value={status} />}
          <label>
            <span>Name contains</span>
            <input type="search" name="name" defaultValue={name ?? ''} placeholder="holiday" autoComplete="off" />
          </label>
          <label>
            <span>Folder</span>
            <select name="folder" defaultValue={dir ?? ''}>
              <option value="">All folders</option>
              {folders.map((f) => (
                <option key={f.dir} value={f.dir}>
                  {f.dir} ({f.videos})
                </option>
              ))}
            </select>
          </label>
          <label>
            <span>Sort by</span>
            <select name="sort" defaultValue={sort}>
              {Object.entries(LIBRARY_SORTS).map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="button">
            Show
          </button>
          {filtered && (
            <Link href={libraryHref(state, { folder: undefined, name: undefined })} className="library-clear">
              Clear filters
            </Link>
          )}
        </Form>
      )}

      <nav aria-label="Filter by status" className="filters">
        {[undefined, ...LIBRARY_STATUSES].map((s) => (
          <Link key={s ?? 'all'} href={libraryHref(state, { status: s })} className="chip" aria-current={s === status ? 'page' : undefined}>
            {s ?? 'all'} ({countOf(s)})
          </Link>
        ))}
      </nav>

      {stats.videos.total === 0 ? (
        <p className="notice" data-testid="empty-library">
          No videos indexed yet: run <code>vidsearch index &lt;folder&gt;</code>.
        </p>
      ) : videos.length === 0 ? (
        <p className="notice" data-testid="no-match">
          No {status ?? ''} videos{name ? ` with “${name}” in the name` : ''}
          {dir ? ` in ${dir}` : ''}
          {page > 1 ? ' on this page' : ''}.
        </p>
      ) : (
        <ul className="library">
          {videos.map((v) => (
            <li key={v.id} className="library-item" data-testid="library-item" data-status={v.status}>
              <Link href={`/videos/${v.id}`} className="library-thumb-link" tabIndex={-1} aria-hidden="true">
                <Thumb video={v} state={fileStates.get(v.id)!} />
              </Link>
              <div className="library-body">
                <Link href={`/videos/${v.id}`} className="library-name" title={v.path}>
                  {fileName(v.path)}
                </Link>
                <span className={`status status-${v.status}`}>{v.status}</span>
                {fileStateLabel(fileStates.get(v.id)!) && (
                  <span className="status status-failed" data-testid="file-state" data-state={fileStates.get(v.id)} title="the stream and thumbnails are not served">
                    {fileStateLabel(fileStates.get(v.id)!)}
                  </span>
                )}
                <span className="library-meta">
                  {v.status === 'indexed' && `${duration(v.duration)} · ${plural(v.segmentCount, 'segment')} · `}
                  {/* The file's own date (when it was made or last edited), not when it was indexed. */}
                  <time dateTime={new Date(v.mtimeMs).toISOString()} data-testid="library-date">
                    {new Date(v.mtimeMs).toISOString().slice(0, 10)}
                  </time>
                </span>
                {v.error && <p className="library-error">{v.error}</p>}
              </div>
            </li>
          ))}
        </ul>
      )}

      {pages > 1 && (
        <nav aria-label="Pages" className="pager">
          {page > 1 && <Link href={libraryHref(state, { page: page - 1 })}>← Previous</Link>}
          <span>
            Page {page} of {pages}
          </span>
          {page < pages && <Link href={libraryHref(state, { page: page + 1 })}>Next →</Link>}
        </nav>
      )}
    </>
  );
}
