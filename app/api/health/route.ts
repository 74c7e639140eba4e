// GET /api/health → what the server can search, or 503 with the reason it cannot (no model, bad
// database). The UI shows that reason; the engine is opened again on the next call, so fixing the
// cause (e.g. `npx vidsearch models pull`) needs no restart.
import { libraryJson, workerJson, type HealthJson } from '@/app/lib/dto';
import { getEngine, getWork } from '@/app/lib/engine';
import { describeError, json } from '@/app/lib/http';
import { listLibraries, readDaemonStatus } from '@/indexer';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export async function GET(): Promise<Response> {
  let body: HealthJson;
  try {
    const { model, store } = await getEngine();
    // Picks up an index that `vidsearch index` published since the last look.
    await store.refresh();
    const s = await store.summary();
    const { name, variant, dim } = model.identity;
    const daemon = readDaemonStatus(store.home);
    const { queue, libraries } = await getWork();
    const [running, libs, counts, workers] = await Promise.all([queue.list({ states: ['running'], limit: 50 }), listLibraries({ libraries }), queue.counts(), queue.workers()]);
    body = {
      ok: true,
      videos: s.videos.indexed,
      model: { name, variant, dim },
      index: { vectors: s.index.vectors, inStep: s.index.inStep, bytes: s.index.bytes },
      libraries: libs.map(libraryJson),
      queue: counts,
      workers: workers.map((w) => ({ ...workerJson(w), job: running.find((j) => j.id === w.jobId)?.key ?? null })),
      daemon: daemon ? { state: daemon.state, queue: daemon.queue, current: daemon.current, recentFailures: daemon.recentFailures.slice(-10) } : null,
    };
  } catch (err) {
    body = { ok: false, error: describeError(err).message };
    return json(body, { status: 503 });
  }
  return json(body);
}
