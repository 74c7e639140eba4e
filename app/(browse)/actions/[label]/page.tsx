// One action: the videos whose most probable label it is, or that give it at least 10 %, as a
// whole or in some segments (the same rule the search filter uses), with those moments.
import type { Metadata } from 'next';
import Form from 'next/form';
import Link from 'next/link';
import { MAX_LABEL_CHARS, lowConfidence } from '@/indexer';
import { libraryLabels, relativeScoresNote } from '@/app/lib/actions';
import { clock, duration, fileName, percent, plural } from '@/app/lib/format';
import { EngineUnavailable, libraryOrError } from '@/app/ui/engine-unavailable';
import { TagList, actionHref } from '@/app/ui/tags';

type Props = { params: Promise<{ label: string }> };

const SHOWN = 500;

// Next.js (16.4) hands the segment over still percent-encoded ("a%2525b" arrives as such), so it is
// decoded once here; a malformed escape is taken as it is.
function labelOf(raw: string): string {
  try {
    return decodeURIComponent(raw).trim();
  } catch {
    return raw.trim();
  }
}

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: `“${labelOf((await params).label)}”` };
}

export default async function ActionPage({ params }: Props) {
  const label = labelOf((await params).label);
  // Tags are in the store: no model needed, so this works while the model is still downloading.
  const { library: engine, error } = await libraryOrError();
  if (!engine) return <EngineUnavailable message={error} />;
  const labels = await libraryLabels(engine);
  const rows = labels && label.length <= MAX_LABEL_CHARS ? await engine.store.tagged(labels.key, label) : [];

  // Per video: its whole-video score for the label (if any) and the segments tagged with it.
  const byVideo = new Map<number, { whole?: number; segments: Map<number, number> }>();
  for (const r of rows) {
    const entry = byVideo.get(r.videoId) ?? { segments: new Map<number, number>() };
    if (r.segmentIdx < 0) entry.whole = r.score;
    else entry.segments.set(r.segmentIdx, r.score);
    byVideo.set(r.videoId, entry);
  }
  const best = (e: { whole?: number; segments: Map<number, number> }) => Math.max(e.whole ?? 0, ...e.segments.values());
  const ids = [...byVideo.keys()].sort((a, b) => best(byVideo.get(b)!) - best(byVideo.get(a)!)).slice(0, SHOWN);
  const [videos, tags] = await Promise.all([engine.store.videos({ ids, status: 'indexed' }), labels ? engine.store.tags(ids, labels.key) : new Map()]);
  const byId = new Map(videos.map((v) => [v.id, v]));
  const segmentTimes = new Map(await Promise.all(ids.filter((id) => byVideo.get(id)!.segments.size > 0).map(async (id) => [id, await engine.store.videoSegments(id)] as const)));
  const shown = ids.filter((id) => byId.has(id));

  return (
    <>
      <p className="breadcrumb">
        <Link href="/actions">Actions</Link> /
      </p>
      <h1>“{label}”</h1>
      {!labels ? (
        <p className="notice" data-testid="not-tagged">
          Action tagging is off (<code>VIDSEARCH_LABEL_SET=none</code>): run <code>vidsearch tag --all</code> to tag the library.
        </p>
      ) : shown.length === 0 ? (
        <p className="notice" data-testid="no-videos">
          No video is tagged “{label}” in {labels.title}. <Link href="/actions">See the actions that are</Link>.
        </p>
      ) : (
        <>
          <p className="hint" data-testid="action-summary">
            {plural(shown.length, 'video')} where “{label}” is the most probable label or has at least 10 %, as a whole or in some segments. {relativeScoresNote(labels)}
          </p>
          <Form action="/" className="search-form search-form-small" role="search">
            <label htmlFor="q">Search these videos</label>
            <input id="q" name="q" type="search" placeholder="a red car" autoComplete="off" />
            <input type="hidden" name="action" value={label} />
            <button type="submit" className="button">
              Search
            </button>
          </Form>
          <ul className="library">
            {shown.map((id) => {
              const v = byId.get(id)!;
              const entry = byVideo.get(id)!;
              const videoTags = tags.get(id)?.get(-1) ?? [];
              const segs = (segmentTimes.get(id) ?? []).filter((s) => entry.segments.has(s.idx));
              return (
                <li key={id} className="library-item" data-testid="action-video" data-video-id={id}>
                  <Link href={`/videos/${id}`} className="library-name" title={v.path}>
                    {fileName(v.path)}
                  </Link>
                  <span className="library-meta">
                    {duration(v.duration)}
                    {entry.whole !== undefined && ` · whole video ${percent(entry.whole)}${videoTags[0]?.label === label && lowConfidence(videoTags) ? ' (low confidence)' : ''}`}
                  </span>
                  {segs.length > 0 && (
                    <ul className="chips" aria-label={`Moments tagged “${label}” in ${fileName(v.path)}`}>
                      {segs.map((s) => (
                        <li key={s.idx}>
                          <Link href={`/videos/${id}?t=${s.start}`} className="chip" data-testid="action-moment">
                            {clock(s.start)}–{clock(s.end)}
                            <span className="chip-score">
                              <span className="visually-hidden">, </span>
                              {percent(entry.segments.get(s.idx)!)}
                            </span>
                          </Link>
                        </li>
                      ))}
                    </ul>
                  )}
                  <div className="library-tags">
                    <TagList tags={videoTags} href={actionHref} labels={labels} name={`Action tags of ${fileName(v.path)}`} current={label} />
                  </div>
                </li>
              );
            })}
          </ul>
          {byVideo.size > SHOWN && <p className="hint">Showing the first {SHOWN} of {byVideo.size}.</p>}
        </>
      )}
    </>
  );
}
