// The results half of the search page: opens the engine, searches, and renders every state
// (engine unavailable, empty library, bad query, no results, results) as part of the page.
import Link from 'next/link';
import type { SearchResult } from '@/indexer/search';
import { libraryLabels, type LibraryLabels } from '@/app/lib/actions';
import { clock, duration, fileName, plural, score } from '@/app/lib/format';
import { EngineUnavailable, engineOrError } from '@/app/ui/engine-unavailable';
import { MoreLikeThis } from '@/app/ui/more-like-this';
import { ResultPlayer } from '@/app/ui/result-player';
import { TagList, actionHref, searchHref } from '@/app/ui/tags';

const RESULTS = 20;

export async function SearchResults({ q, action }: { q: string; action?: string }) {
  const { engine, error } = await engineOrError();
  if (!engine) return <EngineUnavailable message={error} />;

  if (!q) {
    const { videos } = await engine.store.summary();
    if (!videos.indexed) return <EmptyLibrary />;
    if (action) {
      return (
        <p className="hint">
          Describe a scene to search the videos tagged “{action}”, or <Link href={actionHref(action)}>list them all</Link>.
        </p>
      );
    }
    return (
      <p className="hint">
        Describe a scene to search {plural(videos.indexed, 'indexed video')}; each result plays from its best moment.
      </p>
    );
  }

  let res;
  try {
    res = await engine.searcher.search(q, { k: RESULTS, action });
  } catch (err) {
    // The query itself is wrong (too long): say so next to the box, like a form error.
    if (err instanceof Error && err.name === 'UsageError') {
      return (
        <p className="notice notice-error" role="alert">
          {err.message}
        </p>
      );
    }
    throw err;
  }
  if (res.results.length === 0) {
    const { videos } = await engine.store.summary();
    if (!videos.indexed) return <EmptyLibrary />;
    if (action) {
      return (
        <div className="notice" role="status" data-testid="no-results">
          <p>
            No results for “{res.query}” among the videos tagged “{action}”.
          </p>
          <p>
            <Link href={searchHref(res.query)}>Search all videos</Link> · <Link href="/actions">browse by action</Link>
          </p>
        </div>
      );
    }
    return (
      <p className="notice" role="status" data-testid="no-results">
        No results for “{res.query}”.
      </p>
    );
  }
  const labels = await libraryLabels(engine);
  return (
    <>
      <p className="results-summary" role="status">
        {plural(res.results.length, 'video')}, best first ({Math.round(res.tookMs)} ms)
        {labels && res.results.some((r) => r.labels.length > 0) && (
          <>
            {' '}
            · tags: most probable of {labels.size} actions ({labels.title}), relative scores · <Link href="/actions">browse by action</Link>
          </>
        )}
      </p>
      <ol className="results">
        {res.results.map((r) => (
          <li key={r.videoId}>
            <ResultCard result={r} q={res.query} action={action} labels={labels} />
          </li>
        ))}
      </ol>
    </>
  );
}

export function ResultCard({ result: r, q, action, labels }: { result: SearchResult; q: string; action?: string; labels: LibraryLabels | null }) {
  const name = fileName(r.path);
  const [best, ...others] = r.moments;
  const href = `/videos/${r.videoId}?${new URLSearchParams({ q, t: String(r.bestTime) })}`;
  return (
    <article className="card" data-testid="result-card" data-video-id={r.videoId} data-like-scope>
      <ResultPlayer videoId={r.videoId} name={name} best={best} others={others}>
        <h2 className="card-title" title={r.path}>
          <Link href={href}>{name}</Link>
        </h2>
        <p className="card-meta">
          {duration(r.duration)} · best moment {clock(r.bestTime)} · score {score(r.score)}
        </p>
        <TagList tags={r.labels} href={(label) => searchHref(q, label)} labels={labels} name={`Action tags of ${name}: choose one to search only videos tagged with it`} current={action} />
        <MoreLikeThis videoId={r.videoId} time={r.bestTime} name={name} />
      </ResultPlayer>
    </article>
  );
}

function EmptyLibrary() {
  return (
    <section className="notice" data-testid="empty-library">
      <h2>No videos indexed yet</h2>
      <p>
        Run <code>vidsearch index &lt;folder&gt;</code> to add a folder of videos, then search here.
      </p>
    </section>
  );
}

export function ResultsSkeleton() {
  return (
    <div aria-busy="true">
      <p className="visually-hidden" role="status">
        Searching…
      </p>
      <ol className="results">
        {[0, 1, 2].map((i) => (
          <li key={i} className="card skeleton-card">
            <div className="skeleton skeleton-thumb" />
            <div className="skeleton skeleton-line" />
          </li>
        ))}
      </ol>
    </div>
  );
}
