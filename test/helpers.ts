// Shared test setup: the project's test model (built once per test process) and fresh data
// directories. Everything is real: ffmpeg, ONNX Runtime, SQLite, HNSW.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forgetProcessConfig, resolveConfig, type Config, type ConfigInput } from '../indexer/services/config';
import { buildTestModel } from '../indexer/testkit/build';
import type { OpenEngine, OpenLibrary } from '../indexer/services/engine';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
/** Committed test data (copied from reference sources, so tests never read outside the repository). */
export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');

export function tempDir(prefix = 'vidsearch-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

let modelDir: Promise<string> | undefined;

/** The designed test model, built into a temp folder once per process. */
export function testModel(): Promise<string> {
  modelDir ??= (async () => {
    const dir = path.join(tempDir('vidsearch-model-'), 'test-clip');
    await buildTestModel(dir);
    return dir;
  })();
  return modelDir;
}

// Label vectors depend only on the model and the label set, so tests share one cache.
const sharedCache = tempDir('vidsearch-cache-');

/** A configuration on a fresh data directory using the test model. */
export async function testConfig(overrides: ConfigInput = {}): Promise<Config> {
  const home = tempDir('vidsearch-home-');
  return resolveConfig({ home, model: await testModel(), threads: 1, cacheDir: sharedCache, ...overrides }, {});
}

// The web app's engine and library handles are process-wide singletons opened from the environment
// on first use (app/lib/engine.ts), as is the configuration they read; a test that changes the
// environment closes them first.
const app = globalThis as typeof globalThis & { __vidsearchEngine?: Promise<OpenEngine>; __vidsearchLibrary?: Promise<OpenLibrary> };

/** Closes the app's engine and library handles, so the next request opens them anew. */
export async function resetAppEngine(): Promise<void> {
  const open = [app.__vidsearchEngine, app.__vidsearchLibrary];
  app.__vidsearchEngine = undefined;
  app.__vidsearchLibrary = undefined;
  // The process's configuration too (services/config.ts processConfig): the next request reads the environment anew.
  forgetProcessConfig();
  for (const handle of open) await (await handle?.catch(() => undefined))?.close();
}
