import type { Metadata } from 'next';
import Form from 'next/form';
import { notFound } from 'next/navigation';
import { cache } from 'react';
import { lowConfidence, type VideoSegmentScores } from '@/indexer';
import { libraryLabels, relativeScoresNote } from '@/app/lib/actions';
import { bytes, duration, fileName, plural } from '@/app/lib/format';
import { EngineUnavailable, engineOrError } from '@/app/ui/engine-unavailable';
import { MoreLikeThis } from '@/app/ui/more-like-this';
import { FileProblem, VideoStatusLine } from '@/app/ui/file-state';
import { TagList, actionHref, searchHref } from '@/app/ui/tags';
import { VideoPlayer, type TimelineSegment } from '@/app/ui/video-player';

type Props = {
  params: Promise<{ id: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
};

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? '';

// Shared by generateMetadata and the page within one request.
const loadVideo = cache(async (rawId: string) => {
  const { engine, error } = await engineOrError();
  if (!engine) return { error };
  const id = /^\d{1,15}$/.test(rawId) ? Number(rawId) : NaN;
  return { engine, video: Number.isSafeInteger(id) ? await engine.store.video(id) : null };
});

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  const { video } = await loadVideo((await params).id);
  return { title: video ? fileName(video.path) : 'Video' };
}

/**
 * Shading in [0, 1] from cosine similarities, relative to this video's own range: absolute CLIP
 * similarities sit in a narrow band (about 0.15 to 0.35 for real models), which would shade every
 * segment alike. A video with one segment, or all alike, is shaded fully.
 */
function shades(sims: number[]): number[] {
  const lo = Math.min(...sims);
  const hi = Math.max(...sims);
  return sims.map((s) => (hi - lo < 1e-6 ? 1 : (s - lo) / (hi - lo)));
}

export default async function VideoPage({ params, searchParams }: Props) {
  const [{ id }, sp] = await Promise.all([params, searchParams]);
  const loaded = await loadVideo(id);
  if (!loaded.engine) return <EngineUnavailable message={loaded.error} />;
  const { engine, video } = loaded;
  if (!video) notFound();

  const q = first(sp.q).trim();
  // With a query, the engine scores the segments and picks the best moment (as search does).
  let scored: VideoSegmentScores | undefined;
  let queryError: string | undefined;
  if (q && video.status === 'indexed') {
    try {
      scored = await engine.segmentScores(video.id, q);
    } catch (err) {
      if (!(err instanceof Error && err.name === 'UsageError')) throw err;
      queryError = err.message;
    }
  }
  const segments = scored?.segments ?? (video.status === 'indexed' ? await engine.store.videoSegments(video.id) : []);
  const sims = scored && scored.segments.length ? scored.segments.map((s) => s.score) : undefined;
  const shade = sims && shades(sims);
  // Action tags in the library's label set: the whole video's (-1) and each segment's.
  const labels = await libraryLabels(engine);
  const tags = labels && video.status === 'indexed' ? ((await engine.store.tags([video.id], labels.key)).get(video.id) ?? new Map()) : new Map();
  const videoTags = tags.get(-1) ?? [];
  const timeline: TimelineSegment[] = segments.map((s, i) => {
    const top = tags.get(s.idx);
    return { start: s.start, end: s.end, score: sims?.[i], shade: shade?.[i], tag: top?.[0] && { label: top[0].label, score: top[0].score, low: lowConfidence(top) } };
  });

  // Start where the link said (a search result's best moment), else at the query's best moment.
  const t = first(sp.t) ? Number(first(sp.t)) : NaN;
  let start = Number.isFinite(t) && t >= 0 ? t : 0;
  if (Number.isNaN(t) && scored?.bestTime !== undefined) start = scored.bestTime;

  const name = fileName(video.path);
  // The stream would refuse a file that is not ok (library.ts): say why instead of a broken player.
  const fileState = video.status === 'indexed' ? (await engine.fileStates([video])).get(video.id)! : 'ok';
  const playable = video.status === 'indexed' && fileState === 'ok';
  return (
    // The scope of "more like this": it asks the player where it is (app/ui/more-like-this.tsx).
    <article className="video-page" data-like-scope>
      <h1 className="video-title">{name}</h1>
      {playable ? (
        <>
          <VideoPlayer src={`/api/videos/${video.id}/stream`} name={name} start={start} segments={timeline} query={sims ? q : undefined} />
          <p className="like-action">
            <MoreLikeThis videoId={video.id} time={start} name={name} />
            <span className="hint small"> for the frame the player shows; choose a segment or play to pick another</span>
          </p>
        </>
      ) : (
        <FileProblem video={video} fileState={fileState} />
      )}

      {playable && (
        <Form action={`/videos/${video.id}`} className="search-form search-form-small" role="search">
          <label htmlFor="q">Find in this video</label>
          <input key={q} id="q" name="q" type="search" defaultValue={q} placeholder="red car" autoComplete="off" />
          <button type="submit" className="button">
            Find
          </button>
        </Form>
      )}
      {queryError && (
        <p className="notice notice-error" role="alert">
          {queryError}
        </p>
      )}

      {video.status === 'indexed' && labels && (
        <section className="video-tags" aria-labelledby="tags-heading" data-testid="video-tags">
          <h2 id="tags-heading">What happens in it</h2>
          {videoTags.length > 0 ? (
            <>
              {/* With a query, a tag searches that query among videos with the tag; else it opens the action's list. */}
              <TagList tags={videoTags} href={(label) => (q ? searchHref(q, label) : actionHref(label))} labels={labels} name={`Action tags of ${name}`} />
              <p className="hint small">
                The most probable of {labels.size} actions ({labels.title}) for the whole video{playable ? "; each segment's is under the timeline" : ''}.{' '}
                {relativeScoresNote(labels)}
              </p>
            </>
          ) : (
            <p className="hint" data-testid="not-tagged">
              Not tagged with {labels.title} yet: run <code>vidsearch tag --all</code> to tag the library.
            </p>
          )}
        </section>
      )}

      <dl className="facts">
        <dt>Path</dt>
        <dd className="path">{video.path}</dd>
        <dt>Status</dt>
        <dd>
          <VideoStatusLine video={video} fileState={fileState} />
        </dd>
        <dt>Duration</dt>
        <dd>{duration(video.duration)}</dd>
        <dt>Resolution</dt>
        <dd>
          {video.width && video.height ? `${video.width} × ${video.height}` : 'unknown'}
          {video.rotation ? ` (rotated ${video.rotation}°)` : ''}
          {video.fps ? `, ${Math.round(video.fps * 100) / 100} fps` : ''}
          {video.codec ? `, ${video.codec}` : ''}
        </dd>
        <dt>File size</dt>
        <dd>{bytes(video.size)}</dd>
        <dt>Indexed</dt>
        <dd>
          {video.indexedAt ? (
            <>
              <time dateTime={video.indexedAt.toISOString()}>{video.indexedAt.toLocaleString()}</time>: {plural(video.frameCount, 'frame')} in {plural(video.segmentCount, 'segment')}
            </>
          ) : (
            'not yet'
          )}
        </dd>
      </dl>
    </article>
  );
}
