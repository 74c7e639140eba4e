// Switching pooling (mean ↔ transformer, or another pooler file) without decoding any video: every
// segment and video vector is recomputed from the frame vectors the database already holds, the
// new identity recorded and the HNSW index rebuilt. Action tags, which are computed from those
// vectors, are recomputed too.
import type { Engine } from './pipeline';
import { activeLabelSet } from './pipeline';
import type { StoreIdentity } from '../core/storage';

export interface RepoolReport {
  from: StoreIdentity | null;
  to: StoreIdentity;
  videos: number;
  segments: number;
  seconds: number;
}

export type RepoolProgress = (e: { stage: 'pool' | 'tags'; done: number; total: number }) => void;

export async function repoolLibrary(engine: Engine, identity: StoreIdentity, onProgress?: RepoolProgress): Promise<RepoolReport> {
  const started = performance.now();
  const from = engine.store.identity;
  const { videos, segments } = await engine.store.repool(identity, (groups) => engine.pooling.pool(groups), (done, total) =>
    onProgress?.({ stage: 'pool', done, total }),
  );
  const set = await activeLabelSet(engine);
  if (set) {
    const indexed = await engine.store.videos({ status: 'indexed' });
    for (const [i, v] of indexed.entries()) {
      const [vector, segs] = await Promise.all([engine.store.videoVector(v.id), engine.store.videoSegments(v.id)]);
      if (vector) await engine.store.replaceTags(v.id, await engine.tagger.tag(set, vector, segs));
      onProgress?.({ stage: 'tags', done: i + 1, total: indexed.length });
    }
  }
  return { from, to: identity, videos, segments, seconds: Math.round((performance.now() - started) / 100) / 10 };
}
