// The re-pool algorithm: every segment and video vector recomputed from the stored frame vectors
// with another pooling (nothing decoded), with the frame packs, in one storage transaction
// (SegmentRepository.rewriteVectors) so readers keep the old vectors until it commits and an
// interrupted re-pool leaves the old index whole. repool.ts drives it for a library (tags too).
import { packSegments } from '../core/framepack';
import type { Storage, StoreIdentity } from '../core/storage';

export type Pool = (groups: Float32Array[][]) => Promise<Float32Array[]>;

/** A few videos per pooling call, so a learned pooler runs in batches. */
const VIDEOS_PER_BATCH = 32;

export async function repoolVectors(
  storage: Pick<Storage, 'videos' | 'segments'>,
  identity: StoreIdentity,
  dim: number | undefined,
  pool: Pool,
  onProgress?: (done: number, total: number) => void,
): Promise<{ videos: number; segments: number }> {
  const ids = await storage.videos.indexedIds();
  let segments = 0;
  await storage.segments.rewriteVectors(
    identity,
    async (tx) => {
      for (let at = 0; at < ids.length; at += VIDEOS_PER_BATCH) {
        const batch = ids.slice(at, at + VIDEOS_PER_BATCH);
        const frames = await tx.frames(batch);
        const segs = await tx.segments(batch);
        const groups = new Map<string, Float32Array[]>();
        const whole = new Map<number, Float32Array[]>();
        const timed = new Map<number, Array<{ time: number; segmentIdx: number; vector: Float32Array }>>();
        for (const f of frames) {
          const v = f.vector;
          if (!timed.has(f.videoId)) timed.set(f.videoId, []);
          timed.get(f.videoId)!.push({ time: f.time, segmentIdx: f.segmentIdx, vector: v });
          const key = `${f.videoId}:${f.segmentIdx}`;
          if (!groups.has(key)) groups.set(key, []);
          if (!whole.has(f.videoId)) whole.set(f.videoId, []);
          groups.get(key)!.push(v);
          whole.get(f.videoId)!.push(v);
        }
        const withFrames = segs.filter((sg) => groups.has(`${sg.videoId}:${sg.idx}`));
        const videos = batch.filter((id) => whole.has(id));
        const pooled = await pool([...withFrames.map((sg) => groups.get(`${sg.videoId}:${sg.idx}`)!), ...videos.map((id) => whole.get(id)!)]);
        // Packs too: an index made before them gets them here (they do not depend on the pooling).
        const packs = new Map([...timed].map(([id, list]) => [id, packSegments(list)]));
        for (const [i, sg] of withFrames.entries()) await tx.setSegment(sg.id, pooled[i], packs.get(sg.videoId)?.get(sg.idx) ?? null);
        for (const [i, id] of videos.entries()) await tx.setVideoVector(id, pooled[withFrames.length + i]);
        segments += withFrames.length;
        onProgress?.(Math.min(at + batch.length, ids.length), ids.length);
      }
    },
    dim,
  );
  return { videos: ids.length, segments };
}
