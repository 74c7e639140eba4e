// The store callers use: the storage repositories (core/storage.ts; io/db/sqlite/ or, for a
// postgresql:// DATABASE_URL, io/db/postgres/), the segment search, the model identity policy
// (identity.ts), the re-pool (repool-vectors.ts). Metadata and every vector live in the database
// (the truth). On SQLite the search is a local HNSW index, a cache of the segment vectors that
// follows the database's change log (index-sync.ts), so any number of stores, in any number of
// processes, may write at once; on PostgreSQL it is the backend's own (Storage.ann: pgvector),
// which every process reads from the database, and there is no local index at all.
// Nothing outside reaches the database client: what callers need is a method here.
// Over 300 lines: one short, documented method per thing callers do with the library.
import path from 'node:path';
import type { Config } from './config';
import { StoreError } from '../core/errors';
import type { FrameRecord, IndexedVideoInput, SegmentHit, SegmentRecord, Stats, Storage, StoreIdentity, Summary, TagRecord, VideoBrief, VideoPage, VideoQuery, VideoRecord, VideoTags } from '../core/storage';
import type { VideoStatus } from '../core/types';
import type { PackedFrames } from '../core/framepack';
import type { IndexPointer } from '../io/ann/ann';
import { openSqliteStorage } from '../io/db/sqlite/storage';
import { openPgStorage } from '../io/db/postgres/storage';
import { databaseKind } from './config';
import { IndexSync } from './index-sync';
import { admitIdentity, followIdentity, identityKey, type IdentityIntent } from './identity';
import { repoolVectors, type Pool } from './repool-vectors';

export interface OpenStoreOptions extends IdentityIntent {
  /** a store that writes (index, workers); a reader's writes are refused, as a guard */
  writer?: boolean;
  /** where repairs are reported (a damaged or out-of-step index rebuilt); default: a line on stderr */
  log?: (line: string) => void;
}

const stderrLine = (line: string) => process.stderr.write(`${line}\n`);

export class Store {
  /** the local HNSW index: only for a storage without its own vector search (SQLite) */
  private readonly sync: IndexSync | undefined;
  /** the identity row as last read, so a reader re-parses it only when a writer changed it */
  private seenIdentity: string | undefined;
  /** segmentSet() on a storage with its own search: the count, read again when the generation moves */
  private counted: { generation: number; count: number } | undefined;

  private constructor(
    private readonly storage: Storage,
    readonly home: string,
    private readonly writer: boolean,
    readonly identity: StoreIdentity | null,
    /** the model this process encodes queries with; an index made with another is refused */
    private readonly expected: StoreIdentity | undefined,
    log: (line: string) => void,
  ) {
    this.sync = storage.ann ? undefined : new IndexSync(home, storage.index, log);
  }

  static async open(cfg: Pick<Config, 'home' | 'databaseUrl'>, opts: OpenStoreOptions = {}): Promise<Store> {
    let storage: Storage | undefined;
    try {
      storage = databaseKind(cfg.databaseUrl) === 'postgres' ? await openPgStorage(cfg.databaseUrl) : await openSqliteStorage(cfg.databaseUrl);
      const value = await storage.identity.read();
      const identity = admitIdentity(cfg.home, value, opts);
      const store = new Store(storage, cfg.home, !!opts.writer, identity, opts.identity, opts.log ?? stderrLine);
      if (identity) {
        store.seenIdentity = value;
        await store.attachSearch(identity.model.dim);
      }
      return store;
    } catch (err) {
      await storage?.close();
      throw err;
    }
  }

  get isWriter(): boolean {
    return this.writer;
  }

  /** why this process last rebuilt the index from the database instead of loading the published file */
  get indexRebuilt(): string | null {
    return this.sync?.rebuilt ?? null;
  }

  /** Readies the segment search for vectors of `dim` dimensions: the backend's index, or the local HNSW file loaded and caught up. */
  private async attachSearch(dim: number): Promise<void> {
    if (this.storage.ann) return this.storage.ann.prepare(dim);
    this.sync!.attach(dim);
    await this.sync!.sync();
  }

  private get dim(): number | undefined {
    return this.identity?.model.dim;
  }

  private setIdentity(identity: StoreIdentity): void {
    (this as { identity: StoreIdentity | null }).identity = identity;
  }

  private requireWriter(): void {
    if (!this.writer) throw new StoreError('this store was opened read-only', { cause: { home: this.home } });
  }

  private requireAnn(): void {
    if (this.sync ? !this.sync.index : !this.identity) throw new StoreError('no model identity recorded yet: index some videos first', { cause: { home: this.home } });
  }

  generation(): Promise<number> {
    return this.storage.index.generation();
  }

  /** Drops every video and vector, and records `identity` as the model of the new index. */
  async reset(identity: StoreIdentity): Promise<void> {
    this.requireWriter();
    await this.storage.identity.reset(identity);
    this.setIdentity(identity);
    if (this.storage.ann) await this.storage.ann.prepare(identity.model.dim);
    else await this.sync!.publishEmpty(identity.model.dim);
  }

  /** Records the model identity on the first write. */
  async claimIdentity(identity: StoreIdentity): Promise<void> {
    this.requireWriter();
    if (this.identity) return;
    await this.storage.identity.claim(identity);
    // Two first writers at once: the one recorded first wins, and the other must match it.
    const value = (await this.storage.identity.read())!;
    this.seenIdentity = value;
    this.setIdentity(followIdentity(this.home, value, identity));
    await this.attachSearch(identity.model.dim);
  }

  /** Brings the in-memory HNSW index in step with the database (IndexSync.sync); the backend's own search always is. */
  async syncIndex(): Promise<'loaded' | 'rebuilt'> {
    this.requireAnn();
    return this.sync ? this.sync.sync() : 'loaded';
  }

  /** The database's digest of its segment ids (idDigest in ann.ts). */
  dbDigest(): Promise<string> {
    return this.storage.index.digest();
  }

  async rebuildIndex(): Promise<void> {
    this.requireAnn();
    await this.sync?.rebuild();
  }

  /**
   * A reader follows the writers: a newly published index is loaded, and the identity is re-read
   * (one indexed lookup), since a writer may have re-pooled the library or re-indexed it with
   * another model since this reader opened. Another pooling is fine (a reader pools nothing);
   * another model is refused, as at open. Costs one stat and one indexed lookup.
   */
  async refresh(): Promise<void> {
    const value = await this.storage.settings.get('identity');
    if (value && value !== this.seenIdentity) await this.adoptIdentity(value);
    await this.sync?.follow();
  }

  private async adoptIdentity(value: string): Promise<void> {
    const stored = followIdentity(this.home, value, this.expected);
    this.seenIdentity = value;
    const before = this.sync ? this.sync.dim : this.identity?.model.dim;
    this.setIdentity(stored);
    if (before === stored.model.dim) return;
    await this.attachSearch(stored.model.dim);
  }

  /** Publishes the index if it changed, at most every `minIntervalMs` (0: now). */
  async flushIndex(minIntervalMs = 0): Promise<IndexPointer | undefined> {
    return this.sync?.flush(minIntervalMs);
  }

  /** The `k` segments nearest `vector` (cosine), best first: the local HNSW index, or the backend's search. */
  async searchSegments(vector: Float32Array, k: number): Promise<SegmentHit[]> {
    if (this.storage.ann) return this.identity ? this.storage.ann.search(vector, k) : [];
    return this.sync!.search(vector, k);
  }

  /**
   * What the searchable segment set is now, and how many segments it holds. Equal keys: the same
   * vectors. Local index: the live ids' digest and the identity (a re-pool changes the vectors,
   * not the ids), in memory. Backend search: the generation (bumped by every write that changes
   * segments) and the identity, one indexed lookup; the count is read again when it moves.
   */
  async segmentSet(): Promise<{ key: string; count: number }> {
    const who = this.identity ? identityKey(this.identity) : '';
    if (this.sync) {
      const ann = this.sync.index;
      return { key: `${ann?.digest ?? ''}|${who}`, count: ann?.size ?? 0 };
    }
    const generation = await this.storage.index.generation();
    if (this.counted?.generation !== generation) this.counted = { generation, count: await this.storage.index.segmentCount() };
    return { key: `g${generation}|${who}`, count: this.counted.count };
  }

  /**
   * Up to `n` segment vectors spread evenly over the library in id order (the same choice in
   * every process): the background a query's scores are judged against (relevance.ts).
   */
  sampleSegments(n: number): Promise<Float32Array[]> {
    return this.storage.segments.sample(n, this.dim);
  }

  videoByPath(file: string): Promise<VideoRecord | null> {
    return this.storage.videos.byPath(file);
  }

  video(id: number): Promise<VideoRecord | null> {
    return this.storage.videos.byId(id);
  }

  /** A page of videos, by path unless `sort` says otherwise (the library page's browsing). */
  videos(opts: VideoPage = {}): Promise<VideoRecord[]> {
    return this.storage.videos.list(opts);
  }

  countVideos(query?: VideoStatus | VideoQuery): Promise<number> {
    return this.storage.videos.count(query);
  }

  /** Every folder that directly holds a video, with how many it holds, by path. */
  videoFolders(): Promise<Array<{ dir: string; videos: number }>> {
    return this.storage.videos.folders();
  }

  /** Videos whose path lies inside `dir`. */
  videosUnder(dir: string): Promise<VideoRecord[]> {
    return this.storage.videos.under(dir);
  }

  /** New files waiting to be indexed show as pending; known ones keep their vectors until replaced. */
  async markPendingMany(files: Array<{ path: string; size: number; mtimeMs: number }>): Promise<void> {
    this.requireWriter();
    await this.storage.videos.markPendingMany(files);
  }

  videosWithFingerprint(size: number, fingerprint: string): Promise<VideoRecord[]> {
    return this.storage.videos.withFingerprint(size, fingerprint);
  }

  /** A renamed or moved file keeps its id and vectors; a pending row at the new path gives way. */
  async moveVideo(id: number, to: string, stamp: { size: number; mtimeMs: number }): Promise<void> {
    this.requireWriter();
    await this.storage.videos.move(id, to, stamp);
    await this.sync?.follow();
  }

  /** Replaces a video's rows and vectors in one transaction, then updates the HNSW index. */
  async saveIndexed(input: IndexedVideoInput): Promise<{ videoId: number; segments: number; frames: number }> {
    this.requireWriter();
    this.requireAnn();
    const { videoId, added } = await this.storage.videos.saveIndexed(input);
    // The change log has it now: searchable here at once (and in other processes at their next look).
    await this.sync?.follow();
    return { videoId, segments: added.length, frames: input.frames.length };
  }

  /** Records a failure; the file's old vectors (if any) go, since they describe other content. */
  async markFailed(file: string, size: number, mtimeMs: number, error: string): Promise<number> {
    this.requireWriter();
    const { id, removed } = await this.storage.videos.markFailed(file, size, mtimeMs, error);
    if (removed.length) await this.sync?.follow();
    return id;
  }

  async removeVideo(id: number): Promise<void> {
    this.requireWriter();
    const removed = await this.storage.videos.remove(id);
    if (removed.length) await this.sync?.follow();
  }

  /** Replaces a video's tags for one label set (re-tagging from stored vectors). */
  async replaceTags(videoId: number, tags: VideoTags): Promise<void> {
    this.requireWriter();
    await this.storage.tags.replace(videoId, tags);
  }

  /** Tags of some videos for a label set: videoId → segmentIdx (-1: whole video) → ranked tags. */
  tags(videoIds: number[], labelSet: string): Promise<Map<number, Map<number, TagRecord[]>>> {
    return this.storage.tags.of(videoIds, labelSet);
  }

  /**
   * Where a label applies: segments (and videos, segmentIdx -1) whose top label it is, or whose
   * probability for it reaches `minScore`.
   */
  tagged(labelSet: string, label: string, minScore = 0.1): Promise<Array<{ videoId: number; segmentIdx: number; score: number }>> {
    return this.storage.tags.tagged(labelSet, label, minScore);
  }

  /** Videos per top label of the whole video, most common first (browse by action). */
  labelCounts(labelSet: string): Promise<Array<{ label: string; videos: number }>> {
    return this.storage.tags.labelCounts(labelSet);
  }

  setting(key: string): Promise<string | undefined> {
    return this.storage.settings.get(key);
  }

  /** the libraries' folders (rows any process may add): roots of the library beside the recorded ones */
  libraryFolders(): Promise<string[]> {
    return this.storage.settings.libraryFolders();
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.requireWriter();
    await this.storage.settings.set(key, value);
  }

  /**
   * Recomputes every segment and video vector from the stored frame vectors with `pool` (nothing
   * is decoded), records `identity`, and rebuilds the HNSW index. One transaction: readers keep
   * the old vectors until it commits, and an interrupted re-pool leaves the old index whole.
   */
  async repool(identity: StoreIdentity, pool: Pool, onProgress?: (done: number, total: number) => void): Promise<{ videos: number; segments: number }> {
    this.requireWriter();
    const done = await repoolVectors(this.storage, identity, this.dim, pool, onProgress);
    this.setIdentity(identity);
    if (this.storage.ann) await this.storage.ann.prepare(identity.model.dim);
    else {
      this.sync!.attach(identity.model.dim);
      await this.sync!.rebuild();
    }
    return done;
  }

  /** Packed frames (framepack.ts) of some segments by id; segments without a pack are left out. */
  segmentPacks(ids: number[]): Promise<Map<number, PackedFrames>> {
    return this.storage.segments.packs(ids);
  }

  /** Frame vectors of some segments, keyed "videoId:segmentIdx", in time order (for re-ranking). */
  segmentFrames(segments: Array<{ videoId: number; idx: number }>): Promise<Map<string, FrameRecord[]>> {
    return this.storage.segments.framesOf(segments, this.dim);
  }

  segments(ids: number[]): Promise<SegmentRecord[]> {
    return this.storage.segments.byIds(ids);
  }

  /** What a search result shows of its videos: path, duration, status. */
  videoBriefs(ids: number[]): Promise<Map<number, VideoBrief>> {
    return this.storage.videos.briefs(ids);
  }

  videoVector(videoId: number): Promise<Float32Array | undefined> {
    return this.storage.videos.vector(videoId, this.dim);
  }

  videoSegments(videoId: number): Promise<Array<SegmentRecord & { vector: Float32Array }>> {
    return this.storage.segments.ofVideo(videoId, this.dim);
  }

  frames(videoId: number, segmentIdxs?: number[]): Promise<FrameRecord[]> {
    return this.storage.segments.frames(videoId, segmentIdxs, this.dim);
  }

  /** Video counts by status, the identity and the index: one grouped count over the videos. */
  async summary(): Promise<Summary> {
    const [videos, generation, last] = await Promise.all([this.storage.videos.countByStatus(), this.generation(), this.sync ? this.storage.index.lastChange() : 0]);
    if (this.storage.ann) {
      // The backend's index is the table itself: always in step, nothing published, nothing rebuilt.
      const size = this.identity ? await this.storage.ann.size() : { vectors: 0, bytes: 0 };
      return { videos, identity: this.identity, index: { ...size, generation, file: null, inStep: !!this.identity, rebuilt: null, search: this.storage.ann.method }, generation };
    }
    const sync = this.sync!;
    const ann = sync.index;
    const p = ann?.pointer;
    return {
      videos,
      identity: this.identity,
      index: {
        vectors: ann?.size ?? 0,
        bytes: ann?.fileBytes() ?? 0,
        generation: p?.generation ?? null,
        file: p ? path.join(ann!.dir, p.file) : null,
        // the index reflects the latest committed change (refresh() and every search follow them)
        inStep: !!ann && sync.appliedChange === last,
        rebuilt: sync.rebuilt,
        search: 'hnsw file',
      },
      generation,
    };
  }

  /**
   * The summary plus segment and frame counts, for `vidsearch stats`. Counting a million frame
   * rows takes ~80 ms, which is why the app's pages and health check use summary().
   */
  async stats(): Promise<Stats> {
    const [summary, segments, frames] = await Promise.all([this.summary(), this.storage.index.segmentCount(), this.storage.segments.countFrames()]);
    // The real check, not just the generation: the index holds exactly the database's segment ids.
    if (summary.index.inStep && this.sync) summary.index.inStep = await this.sync.inStepWithDatabase();
    return { ...summary, segments, frames };
  }

  async close(): Promise<void> {
    try {
      // A writer leaves a file that reflects its work; a reader (a one-query CLI search) writes nothing.
      if (this.writer) await this.flushIndex();
    } finally {
      await this.storage.close();
    }
  }
}
