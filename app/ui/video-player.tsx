'use client';
// The video page's player and its timeline: one segment per button, shaded by similarity to the
// query when there is one; choosing a segment seeks the player there. Under it, each segment's
// most probable action label, when the library is tagged.
import { useRef } from 'react';
import { clock, percent, score } from '@/app/lib/format';

export interface TimelineSegment {
  start: number;
  end: number;
  /** cosine similarity to the query */
  score?: number;
  /** 0..1, how strongly to shade */
  shade?: number;
  /** the segment's most probable action label; low: under the low-confidence line */
  tag?: { label: string; score: number; low: boolean };
}

const tagText = (t: NonNullable<TimelineSegment['tag']>) => `${t.label}${t.low ? '?' : ''} ${percent(t.score)}`;

interface Props {
  src: string;
  name: string;
  start: number;
  segments: TimelineSegment[];
  /** the query the shading is for */
  query?: string;
}

export function VideoPlayer({ src, name, start, segments, query }: Props) {
  const video = useRef<HTMLVideoElement>(null);

  function seek(time: number) {
    const v = video.current;
    if (!v) return;
    v.currentTime = time;
    // A rejected play() means a newer seek or a pause interrupted it; the controls stay usable.
    v.play().catch(() => {});
  }

  const end = segments.at(-1)?.end ?? 0;
  return (
    <div className="player-block">
      <video ref={video} className="player" data-testid="player" src={`${src}#t=${start}`} controls playsInline preload="metadata" aria-label={name} />
      {segments.length > 0 && (
        <figure className="timeline-block">
          <ol className="timeline" aria-label="Segments: choose one to play from there" data-testid="timeline">
            {segments.map((s) => (
              <li key={s.start} style={{ flexGrow: s.end - s.start }}>
                <button
                  type="button"
                  className="segment"
                  data-testid="timeline-segment"
                  data-shade={s.shade}
                  style={s.shade === undefined ? undefined : ({ '--shade': s.shade } as React.CSSProperties)}
                  title={`${clock(s.start)}–${clock(s.end)}${s.score === undefined ? '' : `, similarity ${score(s.score)}`}${s.tag ? `, action: ${tagText(s.tag)}` : ''}`}
                  onClick={() => seek(s.start)}
                >
                  <span className="visually-hidden">
                    Play from {clock(s.start)} to {clock(s.end)}
                    {s.score === undefined ? '' : `, similarity ${score(s.score)}`}
                    {s.tag ? `, action: ${s.tag.label} ${percent(s.tag.score)}${s.tag.low ? ' (low confidence)' : ''}` : ''}
                  </span>
                </button>
              </li>
            ))}
          </ol>
          {segments.some((s) => s.tag) && (
            // Text for sighted users; the buttons above already say it to screen readers.
            <ol className="timeline-labels" aria-hidden="true" data-testid="segment-labels">
              {segments.map((s) => (
                <li key={s.start} style={{ flexGrow: s.end - s.start }} className={s.tag?.low ? 'tag-low' : undefined} data-testid="segment-label" data-label={s.tag?.label} title={s.tag ? tagText(s.tag) : undefined}>
                  {s.tag?.label}
                  {s.tag?.low ? '?' : ''}
                </li>
              ))}
            </ol>
          )}
          <figcaption className="timeline-caption">
            <span>0:00</span>
            <span>{query ? `the stronger the colour, the closer to “${query}”` : `${segments.length} segments`}</span>
            <span>{clock(end)}</span>
          </figcaption>
        </figure>
      )}
    </div>
  );
}
