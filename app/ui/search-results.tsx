// The results half of the search page: opens the engine, searches, and renders every state
// (engine unavailable, empty library, bad query, no results, no close match, results) as part of
// the page. "Show more" is a link to the same search with a longer list (?n=40): it works
// without JavaScript, and the URL says what is on the page.
import Link from 'next/link';
import { type SearchResult, MAX_K } from '@/indexer/client';
import { confidentTag, libraryLabels, type LibraryLabels } from '@/app/lib/actions';
import { clock, duration, fileName, match, plural, score } from '@/app/lib/format';
import { EngineUnavailable, engineOrError } from '@/app/ui/engine-unavailable';
import { MoreLikeThis } from '@/app/ui/more-like-this';
import { ResultPlayer } from '@/app/ui/result-player';
import { TagList, actionHref, searchHref } from '@/app/ui/tags';

/** Results a page shows first, and how many more each "Show more" adds. */
export const RESULTS = 20;

/** The `n` of the URL: how many results the page lists; anything but a whole number in range: the first page. */
export function shownOf(v: string | string[] | undefined): number {
  const s = Array.isArray(v) ? v[0] : v;
  const n = s && /^\d{1,4}$/.test(s) ? Number(s) : RESULTS;
  return Math.min(MAX_K, Math.max(1, n));
}

export async function SearchResults({ q, action, n = RESULTS }: { q: string; action?: string; n?: number }) {
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
    // The first n in one search (offset 0): the longer list starts with the shorter one.
    res = await engine.searcher.search(q, { k: n, action });
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
  const more = res.more && n < MAX_K;
  return (
    <>
      {!res.closeMatch && (
        <div className="notice notice-weak" role="status" data-testid="no-close-match">
          <p>
            <strong>No close match</strong> for “{res.query}”: nothing in the library stands out for it. Showing the closest videos.
          </p>
        </div>
      )}
      <p className="results-summary" role="status">
        {more ? `The best ${res.results.length} videos` : `${plural(res.results.length, 'video')}, best first`} ({Math.round(res.tookMs)} ms)
        {labels && res.results.some((r) => r.labels.some(confidentTag)) && (
          <>
            {' '}
            · tags: most probable of {labels.size} actions ({labels.title}), relative scores · <Link href="/actions">browse by action</Link>
          </>
        )}
      </p>
      <ol className="results">
        {res.results.map((r, i) => (
          // id: "Show more" lands on the first new card, with or without JavaScript
          <li key={r.videoId} id={`result-${i + 1}`}>
            <ResultCard result={r} q={res.query} action={action} labels={labels} />
          </li>
        ))}
      </ol>
      {more && (
        <p className="show-more">
          {/* scroll={false}: with JavaScript the list grows in place; the fragment brings the new cards into view */}
          <Link href={`${moreHref(res.query, action, n + RESULTS)}#result-${n + 1}`} scroll={false} className="button" data-testid="show-more">
            Show more
          </Link>
        </p>
      )}
    </>
  );
}

/** The same search listing `n` results. */
function moreHref(q: string, action: string | undefined, n: number): string {
  const p = new URLSearchParams({ q });
  if (action) p.set('action', action);
  p.set('n', String(Math.min(MAX_K, n)));
  return `/?${p}`;
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
          {duration(r.duration)} · best moment {clock(r.bestTime)} ·{' '}
          <span data-testid="match" title={`match ${match(r.match)} of 100: how clearly it stands above what the library scores for this query; 50 is a close match (cosine ${score(r.score)})`}>
            match {match(r.match)}
          </span>
        </p>
        {/* Only confident tags: the uncertain ones stay on the video page, marked as such. */}
        <TagList tags={r.labels} href={(label) => searchHref(q, label)} labels={labels} name={`Action tags of ${name}: choose one to search only videos tagged with it`} current={action} confidentOnly />
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
