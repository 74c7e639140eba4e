import fs from 'node:fs';
import type { Metadata } from 'next';
import Link from 'next/link';
import { sqlitePath } from '@/indexer/config';
import type { VideoStatus } from '@/indexer/types';
import { bytes, duration, fileName, fileStateLabel, plural } from '@/app/lib/format';
import { EngineUnavailable, engineOrError } from '@/app/ui/engine-unavailable';

export const metadata: Metadata = { title: 'Library' };

const PAGE_SIZE = 200;
const STATUSES: readonly VideoStatus[] = ['indexed', 'failed', 'pending'];

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

function href(status: VideoStatus | undefined, page = 1): string {
  const p = new URLSearchParams();
  if (status) p.set('status', status);
  if (page > 1) p.set('page', String(page));
  const qs = p.toString();
  return qs ? `/library?${qs}` : '/library';
}

export default async function LibraryPage({ searchParams }: Props) {
  const sp = await searchParams;
  const status = STATUSES.find((s) => s === sp.status);
  const page = Math.max(1, Math.floor(Number(sp.page)) || 1);

  const { engine, error } = await engineOrError();
  if (!engine) return <EngineUnavailable message={error} />;
  const [stats, videos] = await Promise.all([engine.store.summary(), engine.store.videos({ status, offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE })]);
  // The web app cannot write: this is how it tells that a file changed or went since indexing.
  const fileStates = await engine.fileStates(videos);
  const total = status ? stats.videos[status] : stats.videos.total;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const dbBytes = fs.statSync(sqlitePath(engine.cfg.databaseUrl), { throwIfNoEntry: false })?.size ?? 0;
  const model = engine.identity.model;

  return (
    <>
      <h1>Library</h1>
      <p className="library-summary" data-testid="library-summary">
        {plural(stats.videos.total, 'video')}: {stats.videos.indexed} indexed, {stats.videos.failed} failed, {stats.videos.pending} pending
        <br />
        Model {model.name} ({model.variant}, {model.dim}-d, {engine.identity.pooling} pooling) · index {plural(stats.index.vectors, 'segment vector')},{' '}
        {bytes(stats.index.bytes)} · database {bytes(dbBytes)}
      </p>

      <nav aria-label="Filter by status" className="filters">
        {[undefined, ...STATUSES].map((s) => (
          <Link key={s ?? 'all'} href={href(s)} className="chip" aria-current={s === status ? 'page' : undefined}>
            {s ?? 'all'} ({s ? stats.videos[s] : stats.videos.total})
          </Link>
        ))}
      </nav>

      {stats.videos.total === 0 ? (
        <p className="notice" data-testid="empty-library">
          No videos indexed yet: run <code>vidsearch index &lt;folder&gt;</code>.
        </p>
      ) : videos.length === 0 ? (
        <p className="notice">No {status} videos{page > 1 ? ' on this page' : ''}.</p>
      ) : (
        <ul className="library">
          {videos.map((v) => (
            <li key={v.id} className="library-item" data-testid="library-item" data-status={v.status}>
              <Link href={`/videos/${v.id}`} className="library-name" title={v.path}>
                {fileName(v.path)}
              </Link>
              <span className={`status status-${v.status}`}>{v.status}</span>
              {fileStateLabel(fileStates.get(v.id)!) && (
                <span className="status status-failed" data-testid="file-state" data-state={fileStates.get(v.id)} title="the stream and thumbnails are not served">
                  {fileStateLabel(fileStates.get(v.id)!)}
                </span>
              )}
              {v.status === 'indexed' && (
                <span className="library-meta">
                  {duration(v.duration)} · {plural(v.segmentCount, 'segment')}
                </span>
              )}
              {v.error && <p className="library-error">{v.error}</p>}
            </li>
          ))}
        </ul>
      )}

      {pages > 1 && (
        <nav aria-label="Pages" className="pager">
          {page > 1 && <Link href={href(status, page - 1)}>← Previous</Link>}
          <span>
            Page {page} of {pages}
          </span>
          {page < pages && <Link href={href(status, page + 1)}>Next →</Link>}
        </nav>
      )}
    </>
  );
}
