// The search page's answer to `/?like=<videoId>&t=<seconds>`: the moments most like that one,
// with the moment itself above them, in the same result cards as a text search.
import Link from 'next/link';
import { libraryLabels } from '@/app/lib/actions';
import { clock, fileName, plural } from '@/app/lib/format';
import { EngineUnavailable, engineOrError } from '@/app/ui/engine-unavailable';
import { ResultCard } from '@/app/ui/search-results';

const RESULTS = 20;

export async function LikeResults({ videoId, t, action }: { videoId: number; t: number; action?: string }) {
  const { engine, error } = await engineOrError();
  if (!engine) return <EngineUnavailable message={error} />;
  let res;
  try {
    res = await engine.searcher.searchLike(videoId, t, { k: RESULTS, action });
  } catch (err) {
    // An unknown video, a moment past its end: said where the results would be.
    if (err instanceof Error && (err.name === 'UsageError' || err.name === 'NotFoundError')) {
      return (
        <p className="notice notice-error" role="alert" data-testid="like-error">
          {err.message}
        </p>
      );
    }
    throw err;
  }
  const source = res.like!;
  const name = fileName(source.path);
  const labels = await libraryLabels(engine);
  return (
    <>
      <section className="like-source" data-testid="like-source" aria-label="The moment you asked about">
        <Link href={`/videos/${source.videoId}?t=${source.time}`} className="like-thumb">
          {/* A plain <img>: the API already serves a small JPEG. */}
          <img src={`/api/videos/${source.videoId}/thumbnail?t=${source.time}`} alt={`${name} at ${clock(source.time)}`} width={160} height={90} decoding="async" />
        </Link>
        <p>
          <strong>More like {name} at {clock(source.time)}</strong>
          <span className="hint small">
            {' '}
            The moments that look most like this frame. Its own scene ({clock(source.start)}–{clock(source.end)} and the segments beside it) is left out; the video&apos;s other moments come last.
          </span>
        </p>
      </section>
      {res.results.length === 0 ? (
        <p className="notice" role="status" data-testid="no-results">
          Nothing else in the library to compare with yet.
        </p>
      ) : (
        <>
          <p className="results-summary" role="status">
            {plural(res.results.length, 'video')}, most alike first ({Math.round(res.tookMs)} ms)
          </p>
          <ol className="results">
            {res.results.map((r) => (
              <li key={r.videoId}>
                <ResultCard result={r} q="" action={action} labels={labels} />
              </li>
            ))}
          </ol>
        </>
      )}
    </>
  );
}
