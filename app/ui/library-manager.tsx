'use client';
// The Library page's live part: the followed folders (add, rescan, pause watching, remove) and the
// queue as it runs (current files with frames/s and ETA, failed jobs with their errors and a retry
// button, the workers). Polls the API once a second while the page is visible, and refreshes the
// server-rendered list below when videos finish, so new ones appear without a reload.
import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useRef, useState } from 'react';
import type { JobJson, JobsJson, LibrariesJson, LibraryJson } from '@/app/lib/dto';

const POLL_MS = 1000;

interface Rate {
  at: number;
  done: number;
  perSecond?: number;
}

async function call(url: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...init?.headers } });
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

function eta(job: JobJson, rate: Rate | undefined): string {
  const { done, total } = job.progress;
  if (!rate?.perSecond || total <= done) return '';
  const s = Math.ceil((total - done) / rate.perSecond);
  return s < 90 ? `, ${s} s left` : `, ${Math.ceil(s / 60)} min left`;
}

const baseName = (p: string) => p.split(/[\\/]/).pop() || p;

export function LibraryManager() {
  const router = useRouter();
  const [libraries, setLibraries] = useState<LibraryJson[] | undefined>();
  const [jobs, setJobs] = useState<JobsJson | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [path, setPath] = useState('');
  const [busy, setBusy] = useState(false);
  const rates = useRef(new Map<number, Rate>());
  const lastDone = useRef<number | undefined>(undefined);

  const refresh = useCallback(async () => {
    try {
      const [l, j] = (await Promise.all([call('/api/libraries'), call('/api/jobs?limit=30')])) as [LibrariesJson, JobsJson];
      setLibraries(l.libraries);
      setJobs(j);
      const now = Date.now();
      for (const job of j.jobs.filter((x) => x.state === 'running')) {
        const prev = rates.current.get(job.id);
        const perSecond = prev && now > prev.at && job.progress.done > prev.done ? ((job.progress.done - prev.done) * 1000) / (now - prev.at) : prev?.perSecond;
        rates.current.set(job.id, { at: now, done: job.progress.done, perSecond });
      }
      // Videos finished since the last look: the server-rendered list below shows them now.
      if (lastDone.current !== undefined && j.counts.done !== lastDone.current) router.refresh();
      lastDone.current = j.counts.done;
    } catch (err) {
      setError((err as Error).message);
    }
  }, [router]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void refresh();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [refresh]);

  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      await refresh();
      router.refresh();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const add = (e: React.FormEvent) => {
    e.preventDefault();
    if (!path.trim()) return;
    void act(async () => {
      await call('/api/libraries', { method: 'POST', body: JSON.stringify({ path: path.trim() }) });
      setPath('');
    });
  };

  const remove = (lib: LibraryJson) => {
    const n = lib.videos.total;
    if (!window.confirm(`Remove ${lib.path} from vidsearch?\n\nIts ${n} ${n === 1 ? 'video leaves' : 'videos leave'} the index. The files themselves are not touched.`)) return;
    void act(() => call(`/api/libraries/${lib.id}`, { method: 'DELETE' }));
  };

  const running = jobs?.jobs.filter((j) => j.state === 'running') ?? [];
  const failed = jobs?.jobs.filter((j) => j.state === 'failed') ?? [];
  return (
    <section className="library-manager" data-testid="library-manager" aria-labelledby="libraries-heading">
      <h2 id="libraries-heading">Folders</h2>
      {error && (
        <p className="notice notice-error" role="alert" data-testid="library-error">
          {error}
        </p>
      )}
      {libraries && libraries.length === 0 && <p className="small">No folders yet: add one, and vidsearch indexes its videos and keeps them current.</p>}
      {libraries && libraries.length > 0 && (
        <ul className="libraries" data-testid="libraries">
          {libraries.map((lib) => (
            <li key={lib.id} className="library-row" data-testid="library-row" data-path={lib.path}>
              <code className="library-path">{lib.path}</code>
              <span className="small">
                {lib.videos.indexed} indexed{lib.videos.failed ? `, ${lib.videos.failed} failed` : ''}
                {lib.queued + lib.running ? `, ${lib.queued + lib.running} to do` : ''} · {lib.watch ? `watching (${lib.mode})` : 'not watching'}
                {lib.lastScanAt ? ` · scanned ${new Date(lib.lastScanAt).toLocaleString()}` : ''}
              </span>
              <span className="library-actions">
                <button type="button" className="button" disabled={busy} onClick={() => void act(() => call(`/api/libraries/${lib.id}/scan`, { method: 'POST' }))}>
                  Rescan
                </button>
                <button type="button" className="button" disabled={busy} onClick={() => void act(() => call(`/api/libraries/${lib.id}`, { method: 'PATCH', body: JSON.stringify({ watch: !lib.watch }) }))}>
                  {lib.watch ? 'Pause watching' : 'Resume watching'}
                </button>
                <button type="button" className="button" disabled={busy} onClick={() => remove(lib)} data-testid="library-remove">
                  Remove
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      <form className="library-add" onSubmit={add} data-testid="library-add">
        <label htmlFor="library-path">Add a folder</label>
        <input id="library-path" name="path" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/home/me/Videos" autoComplete="off" spellCheck={false} />
        <button type="submit" className="button" disabled={busy || !path.trim()}>
          Add
        </button>
      </form>

      <h2>Queue</h2>
      <p className="small" data-testid="queue-summary" aria-live="polite">
        {jobs
          ? `${jobs.counts.queued} queued, ${jobs.counts.running} running, ${jobs.counts.failed} failed · ${jobs.workers.filter((w) => w.live).length} ${jobs.workers.filter((w) => w.live).length === 1 ? 'worker' : 'workers'}`
          : 'loading…'}
      </p>
      {running.length > 0 && (
        <ul className="jobs" data-testid="jobs-running">
          {running.map((j) => {
            const rate = rates.current.get(j.id);
            return (
              <li key={j.id} data-testid="job-running">
                <span className="small">{j.kind}</span> <code>{baseName(j.key)}</code>{' '}
                {j.progress.total > 0 && (
                  <>
                    <progress max={j.progress.total} value={j.progress.done} /> {j.progress.done}/{j.progress.total} frames
                    {rate?.perSecond ? `, ${rate.perSecond.toFixed(1)} frames/s` : ''}
                    {eta(j, rate)}
                  </>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {failed.length > 0 && (
        <ul className="jobs" data-testid="jobs-failed">
          {failed.map((j) => (
            <li key={j.id} data-testid="job-failed">
              <code>{baseName(j.key)}</code> <span className="small">{j.error}</span>{' '}
              <button type="button" className="button" disabled={busy} onClick={() => void act(() => call(`/api/jobs/${j.id}/retry`, { method: 'POST' }))}>
                Retry
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
