import type { Metadata } from 'next';
import Form from 'next/form';
import Link from 'next/link';
import { Suspense } from 'react';
import { MAX_LABEL_CHARS } from '@/indexer';
import { modelStatus } from '@/app/lib/engine';
import { ModelSetup } from '@/app/ui/model-setup';
import { SearchResults, ResultsSkeleton, shownOf } from '@/app/ui/search-results';
import { ImageSearch } from '@/app/ui/image-search';
import { IndexingStatus } from '@/app/ui/indexing-status';
import { LikeResults } from '@/app/ui/like-results';
import { searchHref } from '@/app/ui/tags';

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

const queryOf = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : (v ?? '')).trim();
// A label longer than any label can be matches nothing; it is dropped rather than shown.
const actionOf = (v: string | string[] | undefined) => queryOf(v).slice(0, MAX_LABEL_CHARS);
/** `like=<videoId>&t=<seconds>` (more like that moment); anything but digits is refused by the search. */
const likeOf = (sp: Record<string, string | string[] | undefined>) => {
  const like = queryOf(sp.like);
  if (!like) return undefined;
  const t = queryOf(sp.t);
  return { videoId: /^\d{1,15}$/.test(like) ? Number(like) : NaN, t: /^\d{1,12}(\.\d{1,9})?$/.test(t) ? Number(t) : NaN };
};

export async function generateMetadata({ searchParams }: Props): Promise<Metadata> {
  const sp = await searchParams;
  const q = queryOf(sp.q);
  const action = actionOf(sp.action);
  if (likeOf(sp)) return { title: 'More like this moment' };
  return { title: q ? `“${q}”${action ? ` · ${action}` : ''}` : action ? `Search in “${action}”` : 'Search' };
}

export default async function SearchPage({ searchParams }: Props) {
  const sp = await searchParams;
  const q = queryOf(sp.q);
  const action = actionOf(sp.action);
  // Until the model is in place there is nothing to search with: the page says how far its
  // download got, or what to do, instead of a box that can only fail.
  const model = modelStatus();
  if (model.phase !== 'ready') {
    return (
      <>
        <h1 className="visually-hidden">Search videos</h1>
        <ModelSetup state={model} />
      </>
    );
  }
  const like = likeOf(sp);
  const n = shownOf(sp.n);
  return (
    <>
      <h1 className="visually-hidden">Search videos</h1>
      {/* A GET form: the query lives in the URL (shareable, back button works, no JS needed). */}
      <Form action="/" className="search-form" role="search">
        <label htmlFor="q" className="visually-hidden">
          Describe what you are looking for
        </label>
        {/* key: the box follows the URL on back/forward, not only on first render */}
        <input key={q} id="q" name="q" type="search" defaultValue={q} placeholder="a dog catching a frisbee on the beach" autoComplete="off" autoFocus={!q} />
        {/* A new query keeps the action filter; the chip below removes it. */}
        {action && <input type="hidden" name="action" value={action} />}
        <button type="submit" className="button">
          Search
        </button>
      </Form>
      {action && (
        <p className="active-filter" data-testid="action-filter">
          <span>Only videos and moments tagged</span>
          <Link href={searchHref(q)} className="chip chip-removable" aria-label={`Remove the action filter “${action}”`}>
            {action}
            <span aria-hidden="true">×</span>
          </Link>
        </p>
      )}
      <ImageSearch />
      <IndexingStatus />
      {/* key: a new query shows the skeleton again instead of the previous query's results ("Show more" keeps the list) */}
      <div className="text-results">
        <Suspense key={`${q}\n${action}\n${like?.videoId}@${like?.t}`} fallback={<ResultsSkeleton />}>
          {like ? <LikeResults videoId={like.videoId} t={like.t} action={action || undefined} /> : <SearchResults q={q} action={action || undefined} n={n} />}
        </Suspense>
      </div>
    </>
  );
}
