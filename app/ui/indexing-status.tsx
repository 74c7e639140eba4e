'use client';
// "Indexing N files" on the search page while the queue has work: results can still change. Polls
// the queue's counts every 2 s while the page is visible; says nothing when the queue is empty.
import Link from 'next/link';
import { useEffect, useState } from 'react';
import type { JobsJson } from '@/app/lib/dto';

export function IndexingStatus() {
  const [counts, setCounts] = useState<JobsJson['counts'] | undefined>();
  useEffect(() => {
    let stopped = false;
    const look = async () => {
      if (document.visibilityState !== 'visible') return;
      const res = await fetch('/api/jobs?limit=1').catch(() => undefined);
      if (!stopped && res?.ok) setCounts(((await res.json()) as JobsJson).counts);
    };
    void look();
    const timer = setInterval(() => void look(), 2000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  const n = counts ? counts.queued + counts.running : 0;
  if (!n) return null;
  return (
    <p className="notice notice-weak small" data-testid="indexing-status" aria-live="polite">
      Indexing {n} {n === 1 ? 'file' : 'files'}: results may change. <Link href="/library">Progress</Link>
    </p>
  );
}
