'use client';
// Search with a picture: a file input and a drop zone that post the picture to POST /api/search
// and show the answer in result cards (the same player, moments and "more like this" as a text
// search). A client leaf because the picture goes from the user's disk straight to the API: the
// page never holds it, and a text search's URL stays the page's own.
import Link from 'next/link';
import { useEffect, useRef, useState } from 'react';
import type { SearchResponse, SearchResult } from '@/indexer/client';
import { clock, duration, fileName, plural, score } from '@/app/lib/format';
import { MoreLikeThis } from '@/app/ui/more-like-this';
import { ResultPlayer } from '@/app/ui/result-player';

const ACCEPT = 'image/png,image/jpeg,image/webp,image/bmp,image/tiff';

type State =
  | { kind: 'idle' }
  | { kind: 'busy'; name: string; preview: string }
  | { kind: 'error'; message: string; preview: string }
  | { kind: 'done'; res: SearchResponse; preview: string; name: string };

export function ImageSearch({ k = 20 }: { k?: number }) {
  const [state, setState] = useState<State>({ kind: 'idle' });
  const [over, setOver] = useState(false);
  const request = useRef<AbortController | null>(null);
  const preview = state.kind === 'idle' ? undefined : state.preview;

  // The preview's object URL lives as long as the state that shows it.
  useEffect(() => () => void (preview && URL.revokeObjectURL(preview)), [preview]);

  async function search(file: File) {
    request.current?.abort();
    const ctl = new AbortController();
    request.current = ctl;
    const shown = URL.createObjectURL(file);
    setState({ kind: 'busy', name: file.name, preview: shown });
    const body = new FormData();
    body.append('k', String(k));
    body.append('image', file, file.name);
    try {
      const res = await fetch('/api/search', { method: 'POST', body, signal: ctl.signal });
      const data = await res.json().catch(() => ({ error: `the server answered ${res.status}` }));
      if (ctl.signal.aborted) return;
      if (!res.ok) setState({ kind: 'error', message: data.error ?? `the server answered ${res.status}`, preview: shown });
      else setState({ kind: 'done', res: data as SearchResponse, preview: shown, name: file.name });
    } catch {
      if (!ctl.signal.aborted) setState({ kind: 'error', message: 'the server could not be reached: try again', preview: shown });
    }
  }

  function clear() {
    request.current?.abort();
    setState({ kind: 'idle' });
  }

  return (
    <section className="image-search" data-state={state.kind} data-testid="image-search" aria-label="Search with a picture">
      <div
        className={`drop-zone${over ? ' drop-over' : ''}`}
        data-testid="drop-zone"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          const file = e.dataTransfer.files[0];
          if (file) void search(file);
        }}
      >
        {preview && <img className="drop-preview" src={preview} alt="" width={48} height={48} />}
        <p>
          Or search with a picture: drop one here or{' '}
          <label htmlFor="image-file" className="drop-choose">
            choose an image
          </label>
          <span className="hint small"> (PNG, JPEG, WebP, BMP or TIFF)</span>
        </p>
        <input
          id="image-file"
          type="file"
          accept={ACCEPT}
          className="visually-hidden"
          data-testid="image-input"
          onChange={(e) => {
            const file = e.target.files?.[0];
            // Cleared so that choosing the same file again searches again.
            e.target.value = '';
            if (file) void search(file);
          }}
        />
      </div>
      {state.kind === 'busy' && (
        <p className="hint" role="status">
          Searching with {state.name}…
        </p>
      )}
      {state.kind === 'error' && (
        <p className="notice notice-error" role="alert" data-testid="image-error">
          {state.message}
        </p>
      )}
      {state.kind === 'done' && (
        <div className="image-results" data-testid="image-results">
          <p className="results-summary" role="status">
            {state.res.results.length === 0 ? `No results for ${state.name}` : `${plural(state.res.results.length, 'video')} that look most like ${state.name}, most alike first (${Math.round(state.res.tookMs)} ms)`}
            {' · '}
            <button type="button" className="link-button" onClick={clear}>
              clear
            </button>
          </p>
          <ol className="results">
            {state.res.results.map((r) => (
              <li key={r.videoId}>
                <ImageResultCard result={r} />
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}

/** A text result's card (search-results.tsx) without the tags, which need the server's label set. */
function ImageResultCard({ result: r }: { result: SearchResult }) {
  const name = fileName(r.path);
  const [best, ...others] = r.moments;
  return (
    <article className="card" data-testid="result-card" data-video-id={r.videoId} data-like-scope>
      <ResultPlayer videoId={r.videoId} name={name} best={best} others={others}>
        <h2 className="card-title" title={r.path}>
          <Link href={`/videos/${r.videoId}?t=${r.bestTime}`}>{name}</Link>
        </h2>
        <p className="card-meta">
          {duration(r.duration)} · best moment {clock(r.bestTime)} · score {score(r.score)}
        </p>
        <MoreLikeThis videoId={r.videoId} time={r.bestTime} name={name} />
      </ResultPlayer>
    </article>
  );
}
