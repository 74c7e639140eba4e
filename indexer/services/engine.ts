// The one engine API that the CLI, the web app and the daemon call: configuration in, a loaded
// model, an open store and a searcher out.
import path from 'node:path';
import { ActionTagger } from './actions';
import type { Config } from './config';
import { loadModel, type ClipModel } from '../io/onnx/model';
import { libraryRoots, openVideoFile, videoFileStates, type FileState, type VideoFile } from './library';
import { activeLabelSet, type Engine } from './pipeline';
import type { PoolingStrategy } from '../core/pooling';
import { loadPooling } from './pooler';
import { repoolLibrary, type RepoolProgress, type RepoolReport } from './repool';
import { rerankSettings } from './rerank';
import { Searcher } from './search';
import type { StoreIdentity, VideoRecord } from '../core/storage';
import { identityKey } from './identity';
import { Store } from './store';
import { videoSegmentScores, type VideoSegmentScores } from './moments';

export type { FileState, VideoFile } from './library';
export { modelProvision, type ModelDownload, type ModelPhase, type ModelState, type OfflineFile } from './provision';

export interface OpenEngine extends Engine {
  searcher: Searcher;
  identity: StoreIdentity;
  /** set when opening re-pooled the library (the pooling changed; see repool.ts) */
  repooled?: RepoolReport;
  /** the file of an indexed video, checked and open for serving (library.ts); the caller closes it */
  openVideoFile(video: VideoRecord): Promise<VideoFile>;
  /** each video's file as it is on disk now, by the rule openVideoFile applies */
  fileStates(videos: readonly VideoRecord[]): Promise<Map<number, FileState>>;
  /** the library folders (and files) given to writers, as real paths; empty before any was recorded */
  libraryRoots(): Promise<string[]>;
  /** one video's segments scored against a text query, and its best moment (moments.ts) */
  segmentScores(videoId: number, query: string): Promise<VideoSegmentScores>;
  close(): Promise<void>;
}

export async function loadConfiguredModel(cfg: Config, opts: { oneQuery?: boolean } = {}): Promise<ClipModel> {
  return loadModel({ ...cfg, hashCacheFile: path.join(cfg.home, 'model-hashes.json'), mapped: { dir: path.join(cfg.home, 'onnx-mapped') }, tokenizerCache: path.join(cfg.home, 'tokenizers'), oneQuery: opts.oneQuery });
}

/**
 * `writer` takes the data directory's writer lock (indexing); readers may run alongside it.
 * `reindex` drops an index made with another model instead of refusing it. A writer that finds
 * the index pooled another way (same model) re-pools it from the stored frame vectors first; a
 * reader pools nothing, so it searches the index as it was pooled (its identity says how).
 */
export async function openEngine(
  cfg: Config,
  opts: { writer?: boolean; reindex?: boolean; onRepool?: RepoolProgress; oneQuery?: boolean } = {},
): Promise<OpenEngine> {
  const model = await loadConfiguredModel(cfg, { oneQuery: opts.oneQuery });
  let pooling: PoolingStrategy;
  try {
    pooling = await loadPooling(cfg, model.dim);
  } catch (err) {
    await model.close();
    throw err;
  }
  const identity: StoreIdentity = { model: model.identity, pooling: pooling.name, ...(pooling.identity ? { pooler: pooling.identity } : {}) };
  let store: Store;
  let repool = false;
  try {
    store = await Store.open(cfg, { writer: opts.writer, identity, replacing: opts.reindex, repooling: true });
    if (opts.writer) {
      if (opts.reindex) await store.reset(identity);
      else if (store.identity && identityKey(store.identity) !== identityKey(identity)) repool = true;
      else await store.claimIdentity(identity);
    }
  } catch (err) {
    await pooling.close?.();
    await model.close();
    throw err;
  }
  const engine: OpenEngine = {
    cfg,
    model,
    store,
    pooling,
    // A reader's identity is the index's, which follows a writer's re-pooling (store.refresh).
    get identity() {
      return !opts.writer && store.identity ? store.identity : identity;
    },
    tagger: new ActionTagger(model, cfg.cacheDir, cfg.threads, {
      maxBytes: cfg.labelCacheMb * 2 ** 20,
      // Read when pruning, not now: `tag --all` in another process may change it meanwhile.
      pinned: async () => (await activeLabelSet(engine))?.key,
    }),
    searcher: Object.assign(new Searcher(store, model, cfg.labelSet), { rerank: rerankSettings(cfg) }),
    openVideoFile: (video) => openVideoFile(store, video),
    fileStates: (videos) => videoFileStates(store, videos),
    libraryRoots: () => libraryRoots(store),
    segmentScores: (videoId, query) => videoSegmentScores(store, engine.searcher, videoId, query),
    async close() {
      try {
        await store.close();
      } finally {
        await this.tagger.close();
        await pooling.close?.();
        await model.close();
      }
    },
  };
  if (repool) {
    try {
      engine.repooled = await repoolLibrary(engine, identity, opts.onRepool);
    } catch (err) {
      await engine.close();
      throw err;
    }
  }
  return engine;
}

/**
 * The library without the model: what the store holds (videos, tags, the index's identity) and
 * their files. For pages that show the library, which must work before a model is in place (a
 * fresh install downloading it) and should not pay for loading one.
 */
export interface OpenLibrary extends Pick<OpenEngine, 'cfg' | 'store' | 'openVideoFile' | 'fileStates' | 'libraryRoots'> {
  /** the index's model and pooling; null before anything was indexed */
  identity: StoreIdentity | null;
  close(): Promise<void>;
}

export async function openLibrary(cfg: Config): Promise<OpenLibrary> {
  const store = await Store.open(cfg);
  return {
    cfg,
    store,
    get identity() {
      return store.identity;
    },
    openVideoFile: (video) => openVideoFile(store, video),
    fileStates: (videos) => videoFileStates(store, videos),
    libraryRoots: () => libraryRoots(store),
    close: () => store.close(),
  };
}
