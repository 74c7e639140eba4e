// Pages open the engine themselves (server components). An engine that cannot open is an expected
// state (no model pulled yet, an index built with another model, a bad setting), not a crash: the
// page shows the engine's own message, which says what to run. Anything else goes to error.tsx.
import { getEngine, getLibrary } from '@/app/lib/engine';
import type { OpenEngine, OpenLibrary } from '@/indexer/client';

// By name rather than instanceof: the engine is a process-wide singleton that another route's
// bundle may have opened, with its own copies of the error classes.
const EXPECTED = new Set(['ModelError', 'StoreError', 'LockedError', 'DiskFullError', 'UsageError', 'MediaError', 'ToolError']);

export async function engineOrError(): Promise<{ engine: OpenEngine; error?: undefined } | { engine?: undefined; error: string }> {
  try {
    return { engine: await getEngine() };
  } catch (err) {
    if (err instanceof Error && EXPECTED.has(err.name)) return { error: err.message };
    throw err;
  }
}

/** The library alone (no model), for pages that only list what is indexed. */
export async function libraryOrError(): Promise<{ library: OpenLibrary; error?: undefined } | { library?: undefined; error: string }> {
  try {
    return { library: await getLibrary() };
  } catch (err) {
    if (err instanceof Error && EXPECTED.has(err.name)) return { error: err.message };
    throw err;
  }
}

export function EngineUnavailable({ message }: { message: string }) {
  return (
    <section className="notice notice-error" role="alert" data-testid="engine-error">
      <h2>The search engine could not start</h2>
      <p>{message}</p>
    </section>
  );
}
