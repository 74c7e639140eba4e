'use client';
// Unexpected failures only: expected ones (the engine cannot open, a bad query) are states the
// pages render themselves. In production the server's message is withheld from the browser; the
// digest matches the server log line.
export default function ErrorPage({ error, retry }: { error: unknown; retry: () => void }) {
  const digest = error instanceof Error && 'digest' in error ? String(error.digest) : undefined;
  return (
    <section className="notice notice-error" role="alert">
      <h1>Something went wrong</h1>
      <p>The page could not be shown. The server log has the details{digest ? ` (look for ${digest})` : ''}.</p>
      <button type="button" className="button" onClick={() => retry()}>
        Try again
      </button>
    </section>
  );
}
