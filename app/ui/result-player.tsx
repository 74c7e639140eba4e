'use client';
// A result's media: its best-moment thumbnail until asked to play, then the video itself, playing
// in place from the chosen moment. The card's text comes in as children from the server.
import { useEffect, useRef, useState } from 'react';
import type { Moment } from '@/indexer/client';
import { clock, match } from '@/app/lib/format';

interface Props {
  videoId: number;
  name: string;
  best: Moment;
  others: Moment[];
  children: React.ReactNode;
}

export function ResultPlayer({ videoId, name, best, others, children }: Props) {
  // Where the player first starts; later moments seek the mounted element directly.
  const [from, setFrom] = useState<number | null>(null);
  const video = useRef<HTMLVideoElement>(null);
  const playing = from !== null;

  useEffect(() => {
    // The thumbnail button that had focus is gone: hand focus to the player, not to <body>.
    if (playing && document.activeElement === document.body) video.current?.focus();
  }, [playing]);

  function play(time: number) {
    const v = video.current;
    if (!v) return setFrom(time);
    // Before metadata loads this sets the start position, which the browser applies on load.
    v.currentTime = time;
    // A rejected play() means a newer seek or a pause interrupted it; the controls stay usable.
    v.play().catch(() => {});
  }

  return (
    <>
      <div className="card-media">
        {playing ? (
          <video
            ref={video}
            data-testid="player"
            // #t= starts the first load at the moment without waiting for metadata to seek.
            src={`/api/videos/${videoId}/stream#t=${from}`}
            controls
            autoPlay
            playsInline
            aria-label={`${name}, playing`}
          />
        ) : (
          <button type="button" className="thumb" data-testid="play" onClick={() => play(best.bestTime)} aria-label={`Play ${name} from ${clock(best.bestTime)}`}>
            {/* A plain <img>: the API already serves a small JPEG, there is nothing for next/image to do. */}
            <img src={`/api/videos/${videoId}/thumbnail?t=${best.bestTime}`} alt={`${name} at ${clock(best.bestTime)}`} loading="lazy" decoding="async" width={320} height={180} />
            <span className="thumb-badge" aria-hidden="true">
              ▶ {clock(best.bestTime)}
            </span>
          </button>
        )}
      </div>
      <div className="card-body">
        {children}
        {others.length > 0 && (
          <ul className="chips" aria-label={`Other moments in ${name}`}>
            {others.map((m) => (
              <li key={m.start}>
                <button type="button" className="chip" data-testid="moment-chip" data-time={m.bestTime} title={`match ${match(m.match)} of 100`} onClick={() => play(m.bestTime)}>
                  <span className="visually-hidden">Play from </span>
                  {clock(m.bestTime)}
                  <span className="chip-score">
                    <span className="visually-hidden">, match </span>
                    {match(m.match)}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </>
  );
}
