'use client';
// The live part of the model setup panel: the download's bytes, percentage, speed and ETA, polled
// from GET /api/model. When the phase changes (done, offline, back online) the server renders the
// page again; when the model is ready that page is the search box. No reload, no restart.
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import type { ModelJson } from '@/app/lib/dto';
import { bytes } from '@/app/lib/format';

// Often enough for a bar that moves; offline or missing, a hand-placed model is noticed within seconds.
const POLL_DOWNLOADING_MS = 1000;
const POLL_WAITING_MS = 5000;

function eta(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `about ${s} s left`;
  const m = Math.round(s / 60);
  return m < 60 ? `about ${m} min left` : `about ${Math.floor(m / 60)} h ${m % 60} min left`;
}

export function ModelProgress({ initial }: { initial: ModelJson }) {
  const router = useRouter();
  const [state, setState] = useState(initial);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const poll = async (wait: number) => {
      timer = setTimeout(async () => {
        let next: ModelJson | undefined;
        try {
          const res = await fetch('/api/model', { cache: 'no-store' });
          if (res.ok) next = (await res.json()) as ModelJson;
        } catch {
          // the server restarting, or the network between: keep showing the last state
        }
        if (stopped) return;
        if (next) {
          setState(next);
          if (next.phase !== initial.phase) return router.refresh();
        }
        void poll((next ?? initial).phase === 'downloading' ? POLL_DOWNLOADING_MS : POLL_WAITING_MS);
      }, wait);
    };
    void poll(initial.phase === 'downloading' ? POLL_DOWNLOADING_MS : POLL_WAITING_MS);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
    // One polling loop per phase: the server component remounts this leaf when the phase changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [initial.phase]);

  if (state.phase !== 'downloading') return null;
  const d = state.download;
  const pct = d?.percent;
  return (
    <div className="model-progress" data-testid="model-progress">
      <progress max={100} value={pct ?? undefined} aria-label="Model download" />
      <p className="model-progress-figures" aria-live="polite">
        {!d ? (
          'Starting…'
        ) : (
          <>
            <span data-testid="model-bytes">
              {bytes(d.bytesDone)}
              {d.bytesTotal ? ` of ${bytes(d.bytesTotal)}` : ''}
            </span>
            {pct !== undefined && <span data-testid="model-percent"> · {Math.floor(pct)}%</span>}
            {d.bytesPerSecond !== undefined && <span> · {bytes(Math.round(d.bytesPerSecond))}/s</span>}
            {d.etaSeconds !== undefined && <span data-testid="model-eta"> · {eta(d.etaSeconds)}</span>}
          </>
        )}
      </p>
      {d?.file && <p className="hint model-progress-file">{d.file}</p>}
    </div>
  );
}
