// Shown while a page's server work (opening the engine, reading the index) is in flight. Only for
// the browsing pages (this route group): under a loading boundary a page's response starts before
// it runs, so a video page's notFound() could only ever answer 200; /videos/[id] has none.
export default function Loading() {
  return (
    <div className="skeleton-page" aria-busy="true">
      <p className="visually-hidden" role="status">
        Loading…
      </p>
      <div className="skeleton skeleton-title" />
      <div className="skeleton skeleton-line" />
      <div className="skeleton skeleton-line" />
    </div>
  );
}
