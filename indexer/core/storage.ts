// The storage layer as types: the records the engine reads and writes, and the repositories a
// backend implements (videos, segments and frames, tags, settings, the model identity, what the
// HNSW sync reads, the job queue). No I/O here: the SQLite implementation is io/db/sqlite/, the
// rules on top (identity policy, index sync, re-pooling) are in services/.
// Over 300 lines: the whole contract a second backend (PostgreSQL) implements, in one place.
import type { PackedFrames } from './framepack';
import type { JobKind, JobState } from './jobs';
import type { ModelIdentity, PoolingName, SegmentVectors, VideoProbe, VideoStatus } from './types';

/** A value, or a promise of it: the SQLite job queue answers synchronously, a server database would not. */
export type Awaitable<T> = T | Promise<T>;

export interface StoreIdentity {
  model: ModelIdentity;
  pooling: PoolingName;
  /** the learned pooler (transformer pooling): its file's sha256 and chunk length */
  pooler?: { sha256: string; chunkFrames: number };
}

export interface VideoRecord {
  id: number;
  path: string;
  size: number;
  mtimeMs: number;
  status: VideoStatus;
  error: string | null;
  duration: number | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  rotation: number | null;
  codec: string | null;
  frameCount: number;
  segmentCount: number;
  indexedAt: Date | null;
  createdAt: Date;
}

/** What a search result shows of its videos. */
export type VideoBrief = Pick<VideoRecord, 'id' | 'path' | 'duration' | 'status'>;

export interface SegmentRecord {
  id: number;
  videoId: number;
  idx: number;
  start: number;
  end: number;
  frameCount: number;
}

export interface FrameRecord {
  idx: number;
  segmentIdx: number;
  time: number;
  vector: Float32Array;
}

export interface TagRecord {
  label: string;
  score: number;
}

/** The top labels of a video (segmentIdx -1) and of its segments, for one label set. */
export interface VideoTags {
  labelSet: string;
  entries: Array<{ segmentIdx: number; tags: TagRecord[] }>;
}

export interface IndexedVideoInput {
  path: string;
  size: number;
  mtimeMs: number;
  fingerprint?: string;
  probe: VideoProbe;
  frames: Array<{ time: number; segmentIdx: number; vector: Float32Array }>;
  segments: SegmentVectors[];
  video: Float32Array;
  tags?: VideoTags;
}

/** What the app shows on every page and health check: cheap at any library size. */
export interface Summary {
  videos: VideoCounts;
  identity: StoreIdentity | null;
  index: {
    vectors: number;
    bytes: number;
    generation: number | null;
    file: string | null;
    /** summary(): the generations match; stats(): also the set of segment ids (idDigest) */
    inStep: boolean;
    /** why this process rebuilt the published index from the database (damaged, out of step), if it did */
    rebuilt: string | null;
    /** how segments are searched: 'hnsw file' (SQLite), or the backend's own (VectorSearch.method) */
    search: string;
  };
  generation: number;
}

export interface Stats extends Summary {
  segments: number;
  frames: number;
}

export type VideoCounts = Record<VideoStatus, number> & { total: number };

/** How the library page browses: by status, inside a folder, by words in the file name, sorted. */
export interface VideoQuery {
  status?: VideoStatus;
  /** a folder: videos anywhere below it */
  dir?: string;
  /** words in the file name (not the folders), case-insensitive for ASCII */
  name?: string;
  /** path (the default), name (file name, A to Z), date (file modified, newest first), duration (longest first) */
  sort?: VideoSort;
}
export type VideoSort = 'path' | 'name' | 'date' | 'duration';

/** A page of a video query; `ids` narrows it to some videos. */
export type VideoPage = VideoQuery & { offset?: number; limit?: number; ids?: number[] };

/**
 * Every write that drops or adds segment rows answers which ids it removed (and added), after
 * its commit: the HNSW index follows the database only once the database holds the change.
 */
export interface VideoRepository {
  byPath(file: string): Promise<VideoRecord | null>;
  byId(id: number): Promise<VideoRecord | null>;
  list(opts?: VideoPage): Promise<VideoRecord[]>;
  /** ids of the indexed videos, ascending (what a re-pool walks) */
  indexedIds(): Promise<number[]>;
  count(query?: VideoStatus | VideoQuery): Promise<number>;
  countByStatus(): Promise<VideoCounts>;
  /** every folder that directly holds a video, with how many it holds, by path */
  folders(): Promise<Array<{ dir: string; videos: number }>>;
  under(dir: string): Promise<VideoRecord[]>;
  withFingerprint(size: number, fingerprint: string): Promise<VideoRecord[]>;
  briefs(ids: number[]): Promise<Map<number, VideoBrief>>;
  /** the whole-video vector, checked against `dim` */
  vector(videoId: number, dim: number | undefined): Promise<Float32Array | undefined>;
  /** new files as pending rows; known paths are left alone */
  markPendingMany(files: Array<{ path: string; size: number; mtimeMs: number }>): Promise<void>;
  /** replaces a video's rows (video, segments, frames, tags) in one transaction */
  saveIndexed(input: IndexedVideoInput): Promise<{ videoId: number; removed: number[]; added: Array<{ id: number; idx: number }> }>;
  markFailed(file: string, size: number, mtimeMs: number, error: string): Promise<{ id: number; removed: number[] }>;
  remove(id: number): Promise<number[]>;
  /** a renamed file keeps its id and vectors; a row already at `to` gives way (its segments removed) */
  move(id: number, to: string, stamp: { size: number; mtimeMs: number }): Promise<number[]>;
}

/** One video's frames, as a re-pool reads them inside its transaction. */
export interface StoredFrame {
  id: number;
  videoId: number;
  segmentIdx: number;
  time: number;
  vector: Float32Array;
}

/** What a re-pool may do inside its one transaction (SegmentRepository.rewriteVectors). */
export interface VectorRewrite {
  /** frames of some videos, by video then frame index, checked against the identity's dimension */
  frames(videoIds: number[]): Promise<StoredFrame[]>;
  segments(videoIds: number[]): Promise<Array<{ id: number; videoId: number; idx: number }>>;
  setSegment(id: number, vector: Float32Array, pack: Uint8Array | null): Promise<void>;
  setVideoVector(id: number, vector: Float32Array): Promise<void>;
}

export interface SegmentRepository {
  byIds(ids: number[]): Promise<SegmentRecord[]>;
  /** packed frames (framepack.ts) by segment id; segments without a pack are left out */
  packs(ids: number[]): Promise<Map<number, PackedFrames>>;
  /** frame vectors of some segments, keyed "videoId:segmentIdx", in time order (the search path) */
  framesOf(segments: Array<{ videoId: number; idx: number }>, dim: number | undefined): Promise<Map<string, FrameRecord[]>>;
  ofVideo(videoId: number, dim: number | undefined): Promise<Array<SegmentRecord & { vector: Float32Array }>>;
  frames(videoId: number, segmentIdxs: number[] | undefined, dim: number | undefined): Promise<FrameRecord[]>;
  /** up to `n` segment vectors spread evenly over the ids (the same choice in every process) */
  sample(n: number, dim: number | undefined): Promise<Float32Array[]>;
  countFrames(): Promise<number>;
  /**
   * One transaction that rewrites segment and video vectors, then records `identity` and bumps
   * the generation: readers keep the old vectors until it commits.
   */
  rewriteVectors<T>(identity: StoreIdentity, work: (w: VectorRewrite) => Promise<T>, dim: number | undefined): Promise<T>;
}

export interface TagRepository {
  /** replaces a video's tags for one label set */
  replace(videoId: number, tags: VideoTags): Promise<void>;
  /** videoId → segmentIdx (-1: whole video) → ranked tags */
  of(videoIds: number[], labelSet: string): Promise<Map<number, Map<number, TagRecord[]>>>;
  /** segments (and videos, segmentIdx -1) whose top label is `label`, or whose score for it reaches `minScore` */
  tagged(labelSet: string, label: string, minScore: number): Promise<Array<{ videoId: number; segmentIdx: number; score: number }>>;
  labelCounts(labelSet: string): Promise<Array<{ label: string; videos: number }>>;
}

export interface SettingRepository {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** the folders of the libraries (Library rows): roots of the library, as the recorded ones are */
  libraryFolders(): Promise<string[]>;
}

/** The identity record (the model the vectors were made with), as stored text. */
export interface IdentityRepository {
  read(): Promise<string | undefined>;
  /** records the identity of a library that has none */
  claim(identity: StoreIdentity): Promise<void>;
  /** drops every video and vector and records `identity`, in one transaction */
  reset(identity: StoreIdentity): Promise<void>;
}

/** What the change log says happened to the segments after a sequence number, as net effects. */
export interface SegmentChanges {
  /** the newest sequence number the changes reach */
  last: number;
  /** changes after `since` are no longer all kept (a published file covers them): load that file instead */
  gap: boolean;
  /** ids to take out of the index */
  removed: number[];
  /** ids to add, with their vectors (segments added and removed again in between are in neither list) */
  added: Array<{ id: number; vector: Float32Array }>;
  /** ids whose vector was rewritten (a re-pool) */
  updated: Array<{ id: number; vector: Float32Array }>;
  /** the database's segment-id digest at `last`, when asked for */
  digest?: string;
}

/**
 * What the HNSW sync reads from the database: the segment vectors, and the change log (every insert,
 * delete and rewrite of a segment, in commit order, written by the database itself) that lets any
 * number of readers follow any number of writers.
 *
 * A backend with its own vector search (Storage.ann: PostgreSQL, where pgvector is the index) keeps
 * no change log and no HNSW file follows it: there, digest, generation, segmentCount and eachVector
 * are real (stats, `store copy`, the exact search), lastChange is the generation, and changesSince
 * reports a gap whenever the generation moved (a local index would have to rebuild).
 */
export interface IndexSource {
  /** the digest of the segment ids (DIGEST_SQL, idDigest in io/ann/ann.ts) */
  digest(): Promise<string>;
  /** bumped by every write that changes segment rows or paths */
  generation(): Promise<number>;
  segmentCount(): Promise<number>;
  /** every segment vector, in id order, a batch at a time, read in one snapshot; returns the change-log sequence number that snapshot is at */
  eachVector(dim: number, batch: (rows: Array<{ id: number; vector: Float32Array }>) => void): Promise<number>;
  /** the newest change-log sequence number (0 before any change): one indexed lookup */
  lastChange(): Promise<number>;
  /** the net changes after `since`, read in one snapshot (with the digest at that point when asked) */
  changesSince(since: number, dim: number, withDigest?: boolean): Promise<SegmentChanges>;
  /** forgets the changes up to `through`, which a published file covers */
  pruneChanges(through: number): Promise<void>;
}

/** A segment found by a vector search: its id and its cosine with the query (vectors are unit length). */
export interface SegmentHit {
  id: number;
  score: number;
}

/**
 * A backend's own nearest-neighbour search over the segment vectors. A Storage that has one is
 * searched through it (PostgreSQL: pgvector's HNSW index, or an exact scan where the extension is
 * missing); one without (SQLite) through the local HNSW file that follows its IndexSource.
 */
export interface VectorSearch {
  /** how it searches, as stats and doctor say it: "pgvector HNSW", "pgvector not installed: exact search" */
  readonly method: string;
  /** readies the search for vectors of `dim` dimensions (the identity's); safe to repeat and from many processes at once */
  prepare(dim: number): Promise<void>;
  /** the `k` segments nearest `vector`, best first */
  search(vector: Float32Array, k: number): Promise<SegmentHit[]>;
  /** the vectors searched, and the bytes the index takes (0 without one) */
  size(): Promise<{ vectors: number; bytes: number }>;
}

export interface Storage {
  readonly videos: VideoRepository;
  readonly segments: SegmentRepository;
  readonly tags: TagRepository;
  readonly settings: SettingRepository;
  readonly identity: IdentityRepository;
  readonly index: IndexSource;
  /** the backend's own vector search, if it has one (see VectorSearch) */
  readonly ann?: VectorSearch;
  close(): Promise<void>;
}

/**
 * A backend's tables as plain rows, for `vidsearch store copy` (services/store-copy.ts): the two
 * schemas share table and column names, so a row moves column by column. Values travel as numbers
 * (64-bit integers as numbers), strings, booleans, Dates, byte arrays (vectors as stored: float32
 * LE) or null; each side converts to and from its own column types.
 */
export type TableRow = Record<string, unknown>;
export interface TableRows {
  /** the columns `table` has here */
  columns(table: string): Promise<string[]>;
  count(table: string): Promise<number>;
  /** up to `limit` rows whose `key` comes after `after`, in `key` order */
  read(table: string, columns: string[], key: string, after: number | string | null, limit: number): Promise<TableRow[]>;
  /** inserts rows as they are, ids included, in one transaction */
  write(table: string, columns: string[], rows: TableRow[]): Promise<void>;
  /** after inserts with explicit ids: new rows get ids past the copied ones */
  finish(tables: string[]): Promise<void>;
  close(): Promise<void>;
}

// The libraries and the job queue (services and workers claim work from it). Declared with the
// others; the SQLite ones are io/db/libraries.ts and io/db/jobs.ts, the PostgreSQL ones
// io/db/postgres/libraries.ts and jobs.ts. Awaitable: SQLite answers synchronously, Postgres not.

export type WatchMode = 'inotify' | 'poll';

export interface LibraryRecord {
  id: number;
  path: string;
  watch: boolean;
  mode: WatchMode;
  createdAt: Date;
  lastScanAt: Date | null;
}

export interface LibraryCounts {
  videos: VideoCounts;
  /** jobs of this library queued or running */
  queued: number;
  running: number;
  failedJobs: number;
}

export interface LibraryRepository {
  /** by path */
  list(): Awaitable<LibraryRecord[]>;
  get(id: number): Awaitable<LibraryRecord | undefined>;
  byPath(path: string): Awaitable<LibraryRecord | undefined>;
  /** adds a library (a real path, checked by the caller); the existing row when it is there already */
  add(path: string, opts?: { watch?: boolean; mode?: WatchMode }): Awaitable<{ library: LibraryRecord; created: boolean }>;
  update(id: number, changes: { watch?: boolean; mode?: WatchMode }): Awaitable<LibraryRecord | undefined>;
  scanned(id: number, at?: number): Awaitable<void>;
  remove(id: number): Awaitable<boolean>;
  /** its videos by status (paths below it: core/paths.ts pathRange) and its jobs by state */
  counts(lib: LibraryRecord): Awaitable<LibraryCounts>;
  close(): Awaitable<void>;
}

export interface NewJob {
  kind: JobKind;
  key: string;
  libraryId?: number;
  batch?: string;
  payload?: unknown;
  maxAttempts?: number;
}

export interface JobRecord {
  id: number;
  kind: JobKind;
  key: string;
  libraryId: number | null;
  batch: string | null;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  runAfter: number;
  owner: string | null;
  leaseUntil: number | null;
  heartbeatAt: number | null;
  progressDone: number;
  progressTotal: number;
  payload: unknown;
  result: unknown;
  error: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface WorkerRecord {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  startedAt: number;
  heartbeatAt: number;
  jobId: number | null;
  live: boolean;
}

export type JobOutcome = { result?: unknown } | { error: string; transient: boolean };

export interface ClaimFilter {
  /** only these jobs (a `vidsearch index` run works on its own) */
  ids?: readonly number[];
  kinds?: readonly JobKind[];
}

export interface JobRepository {
  /** ids of the jobs that will do each given job (new, or one already queued or running for the same kind and key) */
  enqueue(jobs: readonly NewJob[], now?: number): Awaitable<number[]>;
  /** atomically moves the next due job to running under `owner`'s lease */
  claim(owner: string, filter?: ClaimFilter, now?: number, leaseMs?: number): Awaitable<JobRecord | undefined>;
  heartbeat(id: number, owner: string, progress?: { done: number; total: number }, now?: number, leaseMs?: number): Awaitable<boolean>;
  finish(id: number, owner: string, outcome: JobOutcome, now?: number): Awaitable<boolean>;
  release(id: number, owner: string): Awaitable<boolean>;
  retry(id: number, now?: number): Awaitable<number | undefined>;
  /** drops the jobs of a removed library that no worker has started */
  dropQueued(libraryId: number): Awaitable<number>;
  get(id: number): Awaitable<JobRecord | undefined>;
  list(opts?: { states?: readonly JobState[]; ids?: readonly number[]; limit?: number }): Awaitable<JobRecord[]>;
  counts(): Awaitable<Record<JobState, number>>;
  prune(now?: number): Awaitable<number>;
  registerWorker(id: string, concurrency: number, now?: number): Awaitable<void>;
  beatWorker(id: string, jobId: number | null, now?: number): Awaitable<void>;
  removeWorker(id: string): Awaitable<void>;
  workers(now?: number): Awaitable<WorkerRecord[]>;
  close(): Awaitable<void>;
}
