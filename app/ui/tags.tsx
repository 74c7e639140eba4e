// Action tags as a row of links: label and probability, most probable first. A label under the
// low-confidence line is marked "?" (and says so to screen readers), or left out where only
// confident tags belong (result cards); the title explains that the numbers are relative. Each tag
// links where the caller says (a filtered search, the browse view).
import Link from 'next/link';
import type { TagRecord } from '@/indexer/client';
import { confidentTag, relativeScoresNote, type LibraryLabels } from '@/app/lib/actions';
import { percent } from '@/app/lib/format';

interface Props {
  tags: TagRecord[];
  href: (label: string) => string;
  labels: LibraryLabels | null;
  /** the accessible name of the list */
  name: string;
  /** the label of the active filter, marked as current */
  current?: string;
  /** leave out the low-confidence tags (cards: a row of guesses says nothing at a glance) */
  confidentOnly?: boolean;
}

export function TagList({ tags: all, href, labels, name, current, confidentOnly = false }: Props) {
  const tags = confidentOnly ? all.filter(confidentTag) : all;
  if (tags.length === 0) return null;
  const note = relativeScoresNote(labels);
  return (
    <ul className="chips tags" aria-label={name} data-testid="tags">
      {tags.map((t) => {
        const guess = !confidentTag(t);
        return (
          <li key={t.label}>
            <Link
              href={href(t.label)}
              className={`chip tag${guess ? ' tag-low' : ''}`}
              data-testid="tag"
              data-label={t.label}
              data-low-confidence={guess || undefined}
              aria-current={t.label === current ? 'true' : undefined}
              title={`${t.label}: ${percent(t.score)}${guess ? ', low confidence' : ''}. ${note}`}
            >
              {t.label}
              {guess && (
                <span className="tag-mark" aria-hidden="true">
                  ?
                </span>
              )}
              <span className="chip-score">
                <span className="visually-hidden">, </span>
                {percent(t.score)}
                {guess && <span className="visually-hidden">, low confidence</span>}
              </span>
            </Link>
          </li>
        );
      })}
    </ul>
  );
}

/** `/?q=…&action=…`: a search restricted to videos and segments tagged with the action. */
export function searchHref(q: string, action?: string): string {
  const p = new URLSearchParams();
  if (q) p.set('q', q);
  if (action) p.set('action', action);
  const qs = p.toString();
  return qs ? `/?${qs}` : '/';
}

/** The browse view of one action. */
export function actionHref(label: string): string {
  return `/actions/${encodeURIComponent(label)}`;
}
