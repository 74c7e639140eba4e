import type { Metadata } from 'next';
import Form from 'next/form';
import { Suspense } from 'react';
import { SearchResults, ResultsSkeleton } from '@/app/ui/search-results';

type Props = { searchParams: Promise<Record<string, string | string[] | undefined>> };

const queryOf = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : (v ?? '')).trim();

export async function generateMetadata({ searchParams }: Props): Promise<Metadata> {
  const q = queryOf((await searchParams).q);
  return { title: q ? `“${q}”` : 'Search' };
}

export default async function SearchPage({ searchParams }: Props) {
  const q = queryOf((await searchParams).q);
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
        <button type="submit" className="button">
          Search
        </button>
      </Form>
      {/* key: a new query shows the skeleton again instead of the previous query's results */}
      <Suspense key={q} fallback={<ResultsSkeleton />}>
        <SearchResults q={q} />
      </Suspense>
    </>
  );
}
