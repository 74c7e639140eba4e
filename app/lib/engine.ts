// The web app's handle on the engine: one reader engine per server process, opened on first use
// from the environment (VIDSEARCH_HOME, VIDSEARCH_MODEL, DATABASE_URL, ...). A failed open is not
// cached, so fixing the model or the data directory needs no restart.
import { resolveConfig, type Config } from '@/indexer/config';
import { openEngine, type OpenEngine } from '@/indexer/engine';

const g = globalThis as typeof globalThis & { __vidsearchEngine?: Promise<OpenEngine> };

export function appConfig(): Config {
  return resolveConfig({}, process.env);
}

export function getEngine(): Promise<OpenEngine> {
  g.__vidsearchEngine ??= openEngine(appConfig()).catch((err) => {
    g.__vidsearchEngine = undefined;
    throw err;
  });
  return g.__vidsearchEngine;
}
