// The web app's handle on the engine: one reader engine per server process, opened on first use
// with the process's configuration (VIDSEARCH_HOME, VIDSEARCH_MODEL, DATABASE_URL, ...: resolved
// once, at start-up, by scripts/server.ts). A failed open is not cached, so fixing the model or the
// data directory needs no restart.
import { processConfig, type Config, modelProvision, openEngine, openLibrary, openWork, type ModelState, type OpenEngine, type OpenLibrary, type Work, ModelError } from '@/indexer';

const g = globalThis as typeof globalThis & { __vidsearchEngine?: Promise<OpenEngine>; __vidsearchLibrary?: Promise<OpenLibrary>; __vidsearchWork?: Promise<Work> };

export function appConfig(): Config {
  return processConfig();
}

/**
 * Where the model stands (in place, downloading with its progress, offline with the files to
 * place by hand, missing). The first call in a process starts the download when one is due;
 * scripts/server.ts makes that call at start.
 */
export function modelStatus(): ModelState {
  return modelProvision(appConfig()).state();
}

export function getEngine(): Promise<OpenEngine> {
  if (!g.__vidsearchEngine) {
    // Not even tried while the model is absent: loading would fail the same way on every request.
    const model = modelStatus();
    if (model.phase !== 'ready') {
      const message =
        model.phase === 'downloading'
          ? `the model ${model.model} is being downloaded; search starts when it is in place (progress: GET /api/model)`
          : (model.message ?? `the model ${model.model} is not in ${model.dir}`);
      return Promise.reject(new ModelError(message, { cause: { phase: model.phase, dir: model.dir } }));
    }
  }
  g.__vidsearchEngine ??= openEngine(appConfig()).catch((err) => {
    g.__vidsearchEngine = undefined;
    throw err;
  });
  return g.__vidsearchEngine;
}

/**
 * The library without the model (videos, tags, files), for the pages that list it. The engine
 * when it is already open (one store fewer), a store-only handle otherwise.
 */
export async function getLibrary(): Promise<OpenLibrary> {
  const library =
    (await g.__vidsearchEngine?.catch(() => undefined)) ??
    (await (g.__vidsearchLibrary ??= openLibrary(appConfig()).catch((err) => {
      g.__vidsearchLibrary = undefined;
      throw err;
    })));
  // Follows what other processes wrote since the last look (a first identity included), the open
  // engine's store too: the Library page's "index N segment vectors" was that of its last search.
  await library.store.refresh();
  return library;
}

/** The libraries and the job queue, with the library's store: what the Library page manages. */
export async function getWork(): Promise<Work & Pick<OpenLibrary, 'store'>> {
  const { store } = await getLibrary();
  // A failed open (the database server down) is not cached: the next request tries again.
  g.__vidsearchWork ??= openWork(appConfig()).catch((err) => {
    g.__vidsearchWork = undefined;
    throw err;
  });
  return { ...(await g.__vidsearchWork), store };
}
