// The one engine API that the CLI, the web app and the daemon call: configuration in, a loaded
// model, an open store and a searcher out.
import path from 'node:path';
import type { Config } from './config';
import { loadModel, type ClipModel } from './model';
import type { Engine } from './pipeline';
import { poolingStrategy } from './pooling';
import { Searcher } from './search';
import { Store, type StoreIdentity } from './store';

export interface OpenEngine extends Engine {
  searcher: Searcher;
  identity: StoreIdentity;
  close(): Promise<void>;
}

export async function loadConfiguredModel(cfg: Config): Promise<ClipModel> {
  return loadModel({ ...cfg, hashCacheFile: path.join(cfg.home, 'model-hashes.json') });
}

/**
 * `writer` takes the data directory's writer lock (indexing); readers may run alongside it.
 * `reindex` drops an index made with another model instead of refusing it.
 */
export async function openEngine(cfg: Config, opts: { writer?: boolean; reindex?: boolean } = {}): Promise<OpenEngine> {
  const model = await loadConfiguredModel(cfg);
  const pooling = poolingStrategy(cfg.pooling);
  const identity: StoreIdentity = { model: model.identity, pooling: pooling.name };
  let store: Store;
  try {
    store = await Store.open(cfg, { writer: opts.writer, identity, replacing: opts.reindex });
    if (opts.writer) {
      if (opts.reindex) await store.reset(identity);
      else await store.claimIdentity(identity);
    }
  } catch (err) {
    await model.close();
    throw err;
  }
  return {
    cfg,
    model,
    store,
    pooling,
    identity,
    searcher: new Searcher(store, model),
    async close() {
      try {
        await store.close();
      } finally {
        await model.close();
      }
    },
  };
}
