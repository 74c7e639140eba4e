// Shown while a page's server work (opening the engine, reading the index) is in flight.
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
