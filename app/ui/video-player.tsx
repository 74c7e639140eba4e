'use client';
// The video page's player and its timeline (timeline.tsx): choosing a segment seeks the player
// there, and the timeline shows where the player is.
import { useRef, useState } from 'react';
import { Timeline, type TimelineSegment } from '@/app/ui/timeline';

export type { TimelineSegment } from '@/app/ui/timeline';

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
  const [position, setPosition] = useState(start);

  function seek(time: number) {
    const v = video.current;
    if (!v) return;
    v.currentTime = time;
    // A rejected play() means a newer seek or a pause interrupted it; the controls stay usable.
    v.play().catch(() => {});
  }

  return (
    <div className="player-block">
      <video
        ref={video}
        className="player"
        data-testid="player"
        src={`${src}#t=${start}`}
        controls
        playsInline
        preload="metadata"
        aria-label={name}
        onTimeUpdate={(e) => setPosition(e.currentTarget.currentTime)}
        onSeeked={(e) => setPosition(e.currentTarget.currentTime)}
      />
      <Timeline segments={segments} query={query} position={position} onSeek={seek} />
    </div>
  );
}
