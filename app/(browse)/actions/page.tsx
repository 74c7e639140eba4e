// Browse by action: every label that is some video's most probable one, with how many videos.
import type { Metadata } from 'next';
import Link from 'next/link';
import { libraryLabels, relativeScoresNote } from '@/app/lib/actions';
import { plural } from '@/app/lib/format';
import { EngineUnavailable, libraryOrError } from '@/app/ui/engine-unavailable';
import { actionHref } from '@/app/ui/tags';

export const metadata: Metadata = { title: 'Actions' };
// The library changes as it is indexed and tagged: never prerendered at build time.
export const dynamic = 'force-dynamic';

export default async function ActionsPage() {
  // Tags are in the store: no model needed, so this works while the model is still downloading.
  const { library: engine, error } = await libraryOrError();
  if (!engine) return <EngineUnavailable message={error} />;
  const [labels, stats] = await Promise.all([libraryLabels(engine), engine.store.summary()]);
  const counts = labels ? await engine.store.labelCounts(labels.key) : [];
  const tagged = counts.reduce((n, c) => n + c.videos, 0);

  return (
    <>
      <h1>What happens in the videos</h1>
      {stats.videos.indexed === 0 ? (
        <p className="notice" data-testid="empty-library">
          No videos indexed yet: run <code>vidsearch index &lt;folder&gt;</code>.
        </p>
      ) : !labels ? (
        <p className="notice" data-testid="not-tagged">
          Action tagging is off (<code>VIDSEARCH_LABEL_SET=none</code>). Run <code>vidsearch tag --all</code> to tag the library with Kinetics-400, or{' '}
          <code>vidsearch tag --all --labels a,b,c</code> with your own labels.
        </p>
      ) : counts.length === 0 ? (
        <p className="notice" data-testid="not-tagged">
          The library has no {labels.title} tags yet. Run <code>vidsearch tag --all</code> to tag every indexed video from its stored vectors (nothing is decoded again).
        </p>
      ) : (
        <>
          <p className="hint" data-testid="actions-summary">
            {plural(tagged, 'video')} of {stats.videos.indexed} indexed, each under its most probable of {labels.size} actions ({labels.title}). Choose an action to see its videos and
            moments. {relativeScoresNote(labels)}
          </p>
          <ul className="action-list" aria-label="Actions, most common first">
            {counts.map((c) => (
              <li key={c.label}>
                <Link href={actionHref(c.label)} className="chip" data-testid="action-item" data-label={c.label}>
                  {c.label}
                  <span className="chip-score">
                    <span className="visually-hidden">, </span>
                    {plural(c.videos, 'video')}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
