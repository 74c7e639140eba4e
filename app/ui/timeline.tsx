'use client';
// The video page's timeline: one continuous strip at any length (a 30-minute video has 180
// segments), each segment a cell as wide as its share of the video, shaded by similarity to the
// query; a time scale under it; zoom, which scrolls inside the strip, for long videos. For the
// keyboard the strip is one slider: arrows choose a segment, Enter plays from it (one tab stop, not
// 180 buttons). The line under the strip says what the chosen or hovered segment is.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
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

interface Props {
  segments: TimelineSegment[];
  /** the query the shading is for */
  query?: string;
  /** where the player is, in seconds: drawn as a line, and the chosen segment follows it */
  position: number;
  onSeek(time: number): void;
  /**
   * Something to do with the chosen moment (a button or link), shown beside its description; the
   * segment is the one the keyboard or the last click chose, or the one playing.
   */
  action?: (segment: TimelineSegment, index: number) => React.ReactNode;
}

// Tick labels at least this far apart, start to start.
const MIN_TICK_PX = 72;
// A label's width at the scale's font size, about: 7 px a character and its padding.
const labelPx = (t: number) => clock(t).length * 7 + 8;
const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 18000, 36000];
// Zooming in stops once a segment is this wide: wide enough to aim at and to read its label.
const MAX_SEGMENT_PX = 48;
// Under this a segment gets no separating gap: the gaps would be most of the strip.
const GAP_MIN_PX = 6;
// Width assumed before the strip is measured (the server render).
const GUESS_PX = 640;

/** Everything known about a segment, in words: the slider's value text, tooltips, the readout. */
export function describeSegment(s: TimelineSegment): string {
  return [
    `${clock(s.start)} to ${clock(s.end)}`,
    s.score === undefined ? '' : `similarity ${score(s.score)}`,
    s.tag ? `action: ${s.tag.label} ${percent(s.tag.score)}${s.tag.low ? ' (low confidence)' : ''}` : '',
  ]
    .filter(Boolean)
    .join(', ');
}

/** The index of the segment playing at `time` (the last one that starts at or before it). */
function segmentAt(segments: TimelineSegment[], time: number): number {
  let i = 0;
  while (i + 1 < segments.length && segments[i + 1].start <= time) i++;
  return i;
}

/** Consecutive segments with the same top label, as one span each (a long video has long runs). */
function labelRuns(segments: TimelineSegment[]): Array<{ start: number; end: number; tag?: TimelineSegment['tag'] }> {
  const runs: Array<{ start: number; end: number; tag?: TimelineSegment['tag'] }> = [];
  for (const s of segments) {
    const last = runs.at(-1);
    if (last && last.tag?.label === s.tag?.label && last.tag?.low === s.tag?.low) last.end = s.end;
    else runs.push({ start: s.start, end: s.end, tag: s.tag });
  }
  return runs;
}

/** Tick times from 0 at a round step, spaced so that labels do not collide at `pxPerSecond`. */
function ticks(end: number, pxPerSecond: number): number[] {
  const minPx = Math.max(MIN_TICK_PX, labelPx(end) + 16);
  const step = TICK_STEPS.find((s) => s * pxPerSecond >= minPx) ?? TICK_STEPS.at(-1)!;
  const out: number[] = [];
  // The end gets its own label, right-aligned; a tick whose label would run into it is left out.
  for (let t = 0; t < end && (end - t) * pxPerSecond >= labelPx(t) + labelPx(end); t += step) out.push(t);
  return out;
}

export function Timeline({ segments, query, position, onSeek, action }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const strip = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(GUESS_PX);
  const [zoom, setZoom] = useState(1);
  const [active, setActive] = useState(() => segmentAt(segments, position));
  const [hover, setHover] = useState<number | null>(null);
  const [focused, setFocused] = useState(false);
  const end = segments.at(-1)?.end ?? 0;

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setWidth(el.clientWidth || GUESS_PX);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // While the keyboard is not choosing, the chosen segment is the one playing.
  useEffect(() => {
    if (document.activeElement !== strip.current) setActive(segmentAt(segments, position));
  }, [segments, position]);

  const maxZoom = Math.max(1, 2 ** Math.ceil(Math.log2((segments.length * MAX_SEGMENT_PX) / width)));
  const z = Math.min(zoom, maxZoom);
  const trackPx = width * z;

  // Keep the chosen segment in view inside the strip when it is zoomed (the page itself never scrolls sideways).
  useEffect(() => {
    const el = scroller.current;
    const s = segments[active];
    if (!el || !s || z === 1) return;
    const left = (s.start / end) * trackPx;
    const right = (s.end / end) * trackPx;
    if (left < el.scrollLeft) el.scrollLeft = left;
    else if (right > el.scrollLeft + el.clientWidth) el.scrollLeft = right - el.clientWidth;
  }, [active, z, trackPx, end, segments]);

  if (segments.length === 0) return null;

  function choose(i: number) {
    setActive(Math.max(0, Math.min(segments.length - 1, i)));
  }

  function onKeyDown(e: React.KeyboardEvent) {
    const page = Math.max(1, Math.round(segments.length / 10));
    const moves: Record<string, number> = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -page, PageUp: page };
    if (e.key in moves) choose(active + moves[e.key]);
    else if (e.key === 'Home') choose(0);
    else if (e.key === 'End') choose(segments.length - 1);
    else if (e.key === 'Enter' || e.key === ' ') onSeek(segments[active].start);
    else if (e.key === '+' || e.key === '=') setZoom(Math.min(maxZoom, z * 2));
    else if (e.key === '-') setZoom(Math.max(1, z / 2));
    else return;
    e.preventDefault();
  }

  const shown = hover ?? active;
  const dense = trackPx / segments.length < GAP_MIN_PX;
  const at = (t: number) => `${(t / end) * 100}%`;
  const hasTags = segments.some((s) => s.tag);

  return (
    <figure className="timeline-block" data-testid="timeline-block">
      <div className="timeline-scroll" ref={scroller} data-testid="timeline-scroll">
        <div className="timeline-track" style={{ width: `${z * 100}%` }}>
          <div
            ref={strip}
            className={dense ? 'timeline timeline-dense' : 'timeline'}
            data-testid="timeline"
            role="slider"
            tabIndex={0}
            aria-label={`Timeline, ${segments.length} segments`}
            aria-description="Arrow keys choose a segment, Enter plays from it; + and − zoom"
            aria-valuemin={1}
            aria-valuemax={segments.length}
            aria-valuenow={active + 1}
            aria-valuetext={`Segment ${active + 1} of ${segments.length}: ${describeSegment(segments[active])}`}
            onKeyDown={onKeyDown}
            onFocus={() => setFocused(true)}
            onBlur={() => setFocused(false)}
            onMouseLeave={() => setHover(null)}
          >
            {segments.map((s, i) => (
              <div
                key={s.start}
                className="segment"
                data-testid="timeline-segment"
                data-shade={s.shade}
                data-active={i === active || undefined}
                style={{ width: at(s.end - s.start), ...(s.shade === undefined ? {} : { '--shade': s.shade }) } as React.CSSProperties}
                title={describeSegment(s)}
                onMouseEnter={() => setHover(i)}
                onClick={() => {
                  choose(i);
                  onSeek(s.start);
                }}
              />
            ))}
            {/* drawn over the cells, at least 8 px wide (and inside the strip): a 2 px cell's own outline would not show */}
            <div className="timeline-chosen" aria-hidden="true" style={{ left: `min(${at(segments[active].start)}, 100% - 8px)`, width: at(segments[active].end - segments[active].start) }} />
            <div className="playhead" aria-hidden="true" style={{ left: at(Math.min(position, end)) }} />
          </div>
          {hasTags && (
            // Text for sighted users; the slider's value text already says it to screen readers.
            <ol className="timeline-labels" aria-hidden="true" data-testid="segment-labels">
              {labelRuns(segments).map((r) => {
                const px = ((r.end - r.start) / end) * trackPx;
                return (
                  <li key={r.start} style={{ width: at(r.end - r.start) }} className={r.tag?.low ? 'tag-low' : undefined} data-testid="segment-label" data-label={r.tag?.label} title={r.tag && `${r.tag.label}${r.tag.low ? '?' : ''}`}>
                    {/* a label cut to a letter or two says nothing: the readout has it */}
                    {r.tag && px >= labelPx(0) ? `${r.tag.label}${r.tag.low ? '?' : ''}` : ''}
                  </li>
                );
              })}
            </ol>
          )}
          <div className="timeline-scale" aria-hidden="true" data-testid="timeline-scale">
            {ticks(end, trackPx / end).map((t) => (
              <span key={t} className="tick" style={{ left: at(t) }}>
                {clock(t)}
              </span>
            ))}
            <span className="tick tick-end">{clock(end)}</span>
          </div>
        </div>
      </div>
      <figcaption className="timeline-caption">
        <p className="timeline-readout" data-testid="timeline-readout">
          <span aria-hidden="true">
            {hover === null ? 'Segment' : 'Pointing at segment'} {shown + 1} of {segments.length}: {describeSegment(segments[shown])}
          </span>
          {action?.(segments[active], active)}
        </p>
        <span className="timeline-legend">
          {query ? `The stronger the colour, the closer to “${query}”.` : `${segments.length} segments.`}
          {/* the keys, for sighted keyboard users; a screen reader has them in the slider's description */}
          {focused && <span aria-hidden="true"> ← → choose a segment, Enter plays it, + − zoom.</span>}
        </span>
        {maxZoom > 1 && (
          <span className="timeline-zoom" role="group" aria-label="Zoom the timeline">
            <button type="button" className="chip" onClick={() => setZoom(Math.max(1, z / 2))} disabled={z === 1} aria-label="Zoom out" data-testid="zoom-out">
              −
            </button>
            <span data-testid="zoom-level">×{z}</span>
            <button type="button" className="chip" onClick={() => setZoom(Math.min(maxZoom, z * 2))} disabled={z === maxZoom} aria-label="Zoom in" data-testid="zoom-in">
              +
            </button>
          </span>
        )}
      </figcaption>
    </figure>
  );
}
