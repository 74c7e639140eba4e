// A synthetic library for the search benchmark: the rows and vectors a real index of that size
// would hold (videos → 10 s segments → 10 frame vectors each), written straight into a store's
// database, plus text-like query vectors for recall.
//
// The vectors are clustered the way CLIP vectors of a library are (not uniform on the sphere,
// which no real index looks like): topics → videos → segments → frames, each a noisy copy of
// its parent, and a segment's vector is the mean pooling of its frames, as the pipeline makes it.
// Queries are drawn near a topic but far from any one segment (cosine ≈ 0.3-0.5 to their best
// match, as CLIP's text-to-image similarities are).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from '../indexer/io/db/db';
import { packFrames } from '../indexer/core/framepack';
import { meanPool } from '../indexer/core/pooling';
import type { StoreIdentity } from '../indexer/io/db/store';

export const DIM = 512;
const TOPICS = 64;
const FRAMES_PER_SEGMENT = 10;
const SEGMENT_SECONDS = 10;
const STORE_VERSION = 'bench-store-v2'; // v2: frame packs

/** Seeded normal samples: xorshift128 and Box-Muller. */
export class Gaussian {
  private a: number;
  private b = 362436069;
  private c = 521288629;
  private d = 88675123;
  private spare: number | undefined;
  constructor(seed: number) {
    this.a = Math.imul(seed, 2654435761) >>> 0 || 1;
    for (let i = 0; i < 16; i++) this.uniform();
  }
  /** in (0, 1) */
  uniform(): number {
    const t = this.a ^ (this.a << 11);
    this.a = this.b;
    this.b = this.c;
    this.c = this.d;
    this.d = (this.d ^ (this.d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
    return (this.d + 0.5) / 4294967296;
  }
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

export const rngFor = (seed: number): Gaussian => new Gaussian(seed);

function normalizeInPlace(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s) || 1;
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

/** normalize(parent + sigma * noise), noise ~ N(0, I/DIM) so that |noise| ≈ 1. */
function child(g: Gaussian, parent: Float32Array, sigma: number): Float32Array {
  const out = new Float32Array(parent.length);
  const s = sigma / Math.sqrt(parent.length);
  for (let i = 0; i < out.length; i++) out[i] = parent[i] + s * g.normal();
  return normalizeInPlace(out);
}

export interface LibraryShape {
  segments: number;
  segmentsPerVideo: number;
  seed: number;
}

export class SyntheticLibrary {
  readonly topics: Float32Array[];
  private readonly g: Gaussian;
  constructor(readonly shape: LibraryShape) {
    this.g = rngFor(shape.seed);
    this.topics = Array.from({ length: TOPICS }, () => child(this.g, new Float32Array(DIM), 1));
  }

  get videos(): number {
    return Math.ceil(this.shape.segments / this.shape.segmentsPerVideo);
  }

  /** Videos in order, each with its segments, each with its frame vectors and pooled vector. */
  *generate(): Generator<{ video: number; segments: Array<{ idx: number; frames: Float32Array[]; vector: Float32Array }> }> {
    let left = this.shape.segments;
    for (let v = 0; left > 0; v++) {
      const topic = this.topics[v % TOPICS];
      const dir = child(this.g, topic, 0.8);
      const n = Math.min(left, this.shape.segmentsPerVideo);
      left -= n;
      const segments = [];
      for (let s = 0; s < n; s++) {
        const seg = child(this.g, dir, 0.6);
        const frames = Array.from({ length: FRAMES_PER_SEGMENT }, () => child(this.g, seg, 0.35));
        segments.push({ idx: s, frames, vector: meanPool(frames) });
      }
      yield { video: v, segments };
    }
  }

  /** Text-like queries: near a topic, far from any single segment. */
  queries(n: number, seed: number): Float32Array[] {
    const g = rngFor(seed);
    return Array.from({ length: n }, (_, i) => child(g, this.topics[(i * 7) % TOPICS], 1.6));
  }

  /** Segment-like vectors without rows, for index-only measurements (HNSW at 1,000,000). */
  segmentVectors(): Float32Array {
    const out = new Float32Array(this.shape.segments * DIM);
    let at = 0;
    let left = this.shape.segments;
    for (let v = 0; left > 0; v++) {
      const dir = child(this.g, this.topics[v % TOPICS], 0.8);
      const n = Math.min(left, this.shape.segmentsPerVideo);
      left -= n;
      for (let s = 0; s < n; s++) {
        // The mean of 10 frames around a segment is the segment blurred a little: same cluster shape.
        out.set(child(this.g, dir, 0.62), at);
        at += DIM;
      }
    }
    return out;
  }
}

const f32bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

export interface BuiltStore {
  home: string;
  /** segment ids (1..N) → vectors, row-major */
  vectors: Float32Array;
  ids: Int32Array;
  videos: number;
  reused: boolean;
}

/**
 * Writes a store (database only; the HNSW file is built by the caller, which times it) with
 * `shape.segments` segments at `home`, or reuses one made earlier with the same shape and model.
 */
export function buildStore(home: string, shape: LibraryShape, identity: StoreIdentity, log: (m: string) => void): BuiltStore {
  const stampFile = path.join(home, 'bench-store.json');
  const stamp = JSON.stringify({ version: STORE_VERSION, shape, identity });
  const dbFile = path.join(home, 'vidsearch.db');
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp && fs.existsSync(dbFile)) {
    migrate(dbFile); // a newer schema may have come since
    const db = new Database(dbFile);
    try {
      const rows = db.prepare('SELECT id, vector FROM Segment ORDER BY id').all() as Array<{ id: number; vector: Buffer }>;
      if (rows.length === shape.segments) {
        const vectors = new Float32Array(rows.length * DIM);
        const ids = new Int32Array(rows.length);
        rows.forEach((r, i) => {
          ids[i] = r.id;
          vectors.set(new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength)), i * DIM);
        });
        const videos = (db.prepare('SELECT COUNT(*) AS n FROM Video').get() as { n: number }).n;
        return { home, vectors, ids, videos, reused: true };
      }
    } finally {
      db.close();
    }
  }
  fs.rmSync(home, { recursive: true, force: true });
  fs.mkdirSync(home, { recursive: true });
  migrate(dbFile);
  const db = new Database(dbFile);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const lib = new SyntheticLibrary(shape);
  const now = new Date().toISOString();
  const insertVideo = db.prepare(
    `INSERT INTO Video (path, size, mtimeMs, status, duration, width, height, fps, rotation, codec, frameCount, segmentCount, vector, indexedAt, createdAt, updatedAt)
     VALUES (?, ?, 0, 'indexed', ?, 1920, 1080, 30, 0, 'h264', ?, ?, ?, ?, ?, ?)`,
  );
  const insertSegment = db.prepare('INSERT INTO Segment (videoId, idx, start, "end", frameCount, vector, pack) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const insertFrame = db.prepare('INSERT INTO Frame (videoId, idx, segmentIdx, time, vector) VALUES (?, ?, ?, ?, ?)');
  const vectors = new Float32Array(shape.segments * DIM);
  const ids = new Int32Array(shape.segments);
  let at = 0;
  const started = Date.now();
  const write = db.transaction((item: ReturnType<SyntheticLibrary['generate']> extends Generator<infer T> ? T : never) => {
    const segs = item.segments;
    const duration = segs.length * SEGMENT_SECONDS;
    const videoVector = meanPool(segs.map((s) => s.vector));
    const info = insertVideo.run(
      `/library/synthetic/video-${String(item.video).padStart(6, '0')}.mp4`,
      1_000_000 + item.video,
      duration,
      segs.length * FRAMES_PER_SEGMENT,
      segs.length,
      f32bytes(videoVector),
      now,
      now,
      now,
    );
    const videoId = Number(info.lastInsertRowid);
    let frameIdx = 0;
    for (const s of segs) {
      // The frame pack the indexer writes beside each segment (re-ranking and best moments read it).
      const pack = packFrames(s.frames.map((vector, i) => ({ time: s.idx * SEGMENT_SECONDS + i, vector })));
      const seg = insertSegment.run(videoId, s.idx, s.idx * SEGMENT_SECONDS, (s.idx + 1) * SEGMENT_SECONDS, s.frames.length, f32bytes(s.vector), pack);
      ids[at] = Number(seg.lastInsertRowid);
      vectors.set(s.vector, at * DIM);
      at++;
      s.frames.forEach((f, i) => insertFrame.run(videoId, frameIdx++, s.idx, s.idx * SEGMENT_SECONDS + i, f32bytes(f)));
    }
  });
  let done = 0;
  for (const item of lib.generate()) {
    write(item);
    done += item.segments.length;
    if (done % 20000 < shape.segmentsPerVideo) log(`synthetic library: ${done}/${shape.segments} segments written`);
  }
  db.prepare(`INSERT INTO Setting (key, value) VALUES ('identity', ?), ('generation', '1')`).run(JSON.stringify(identity));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  fs.writeFileSync(stampFile, stamp);
  log(`synthetic library: ${lib.videos} videos, ${shape.segments} segments, ${shape.segments * FRAMES_PER_SEGMENT} frames in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { home, vectors, ids, videos: lib.videos, reused: false };
}

/** Exact top-k by inner product (vectors are unit length, so this is cosine). */
export function exactTopK(vectors: Float32Array, query: Float32Array, k: number): Int32Array {
  const n = vectors.length / DIM;
  const best = new Float64Array(k).fill(-Infinity);
  const bestIdx = new Int32Array(k).fill(-1);
  for (let r = 0; r < n; r++) {
    let s = 0;
    const o = r * DIM;
    for (let i = 0; i < DIM; i++) s += vectors[o + i] * query[i];
    if (s <= best[k - 1]) continue;
    let j = k - 1;
    while (j > 0 && best[j - 1] < s) {
      best[j] = best[j - 1];
      bestIdx[j] = bestIdx[j - 1];
      j--;
    }
    best[j] = s;
    bestIdx[j] = r;
  }
  return bestIdx;
}
