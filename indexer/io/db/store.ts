// The store: metadata and every vector in the database (the truth), the HNSW file as a cache of
// the segment vectors, the writer lock, and the model identity check. Returns domain types.
import path from 'node:path';
import type { Statement } from 'better-sqlite3';
import type { Config, PoolingName } from '../../services/config';
import { openDb, openReader, rawConnection, type Db } from './db';
import { DIGEST_SQL, SegmentIndex, digestOfRow, type Hit, type IndexPointer } from '../ann/ann';
import { DataError, StoreError, errorMessage } from '../../core/errors';
import { acquireWriterLock, writerActive, type WriterLock } from '../files/lock';
import type { ModelIdentity } from '../onnx/model';
import type { SegmentVectors, VideoProbe, VideoStatus } from '../../core/types';
import { fromBytes, toBytes } from '../../core/vectors';
import { packSegments, readPack, type PackedFrames } from '../../core/framepack';

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
  videos: Record<VideoStatus, number> & { total: number };
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
  };
  generation: number;
}

export interface Stats extends Summary {
  segments: number;
  frames: number;
}

const VIDEO_FIELDS = {
  id: true,
  path: true,
  size: true,
  mtimeMs: true,
  status: true,
  error: true,
  duration: true,
  width: true,
  height: true,
  fps: true,
  rotation: true,
  codec: true,
  frameCount: true,
  segmentCount: true,
  indexedAt: true,
  createdAt: true,
} as const;

type VideoRow = { size: bigint; status: string } & Omit<VideoRecord, 'size' | 'status'>;
const toVideo = (r: VideoRow): VideoRecord => ({ ...r, size: Number(r.size), status: r.status as VideoStatus });

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

// A path's last component, for either separator (paths come from the indexing machine): rtrim
// strips every trailing character that is not a separator, leaving the folder part.
const BASENAME = `substr("path", length(rtrim("path", replace(replace("path", '/', ''), '\\', ''))) + 1)`;
// Ties (and equal names in different folders) by path, so pages never overlap or skip.
const BROWSE_ORDER: Record<VideoSort, string> = {
  path: '"path"',
  name: `${BASENAME} COLLATE NOCASE, "path"`,
  date: '"mtimeMs" DESC, "path"',
  duration: '"duration" IS NULL, "duration" DESC, "path"',
};

/** FROM and WHERE of a browse query; its parameters, in order, are browseArgs'. */
function browseSql(q: VideoQuery & { ids?: number[] }): string {
  const where = [q.ids ? '"id" IN (SELECT value FROM json_each(?))' : '', q.status ? '"status" = ?' : '', q.dir !== undefined ? 'substr("path", 1, length(?)) = ?' : '', q.name ? `instr(lower(${BASENAME}), lower(?)) > 0` : ''].filter(Boolean);
  return `FROM "Video"${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
}

function browseArgs(q: VideoQuery & { ids?: number[] }): string[] {
  // A folder matches what lies below it, not its namesakes ("/a/b" is no prefix of "/a/bc/x").
  const prefix = q.dir === undefined ? undefined : /[\\/]$/.test(q.dir) ? q.dir : q.dir + path.sep;
  return [...(q.ids ? [JSON.stringify(q.ids)] : []), ...(q.status ? [q.status] : []), ...(prefix !== undefined ? [prefix, prefix] : []), ...(q.name ? [q.name] : [])];
}

/** The parts of the identity that decide whether vectors are comparable. */
export function identityKey(i: StoreIdentity): string {
  const files = Object.keys(i.model.files)
    .sort()
    .map((f) => `${f}=${i.model.files[f]}`);
  const pooler = i.pooler ? [i.pooler.sha256, i.pooler.chunkFrames] : [];
  return JSON.stringify([i.model.name, i.model.variant, i.model.dim, files, i.pooling, ...pooler]);
}

/** The model part of the identity only: equal keys mean the frame vectors are comparable. */
export function modelKey(i: StoreIdentity): string {
  return identityKey({ model: i.model, pooling: 'mean' });
}

/**
 * The identity row, parsed and checked for the fields every command relies on. A damaged row
 * (hand-edited, half-written by another tool) would otherwise surface as "Expected property
 * name…" or an undefined dimension far from here.
 */
export function parseIdentity(value: string): StoreIdentity {
  const damaged = (why: string) =>
    new DataError(
      `the identity row of the database (table Setting, key "identity": the model the vectors were made with) is damaged: ${why}; ` +
        `run \`vidsearch doctor\` to check the data directory, and re-index with \`vidsearch index --reindex <folder>\` to record the current model`,
      { cause: { table: 'Setting', row: 'identity', column: 'value' } },
    );
  let v: StoreIdentity;
  try {
    v = JSON.parse(value);
  } catch (err) {
    throw damaged(`not JSON (${errorMessage(err)})`);
  }
  const m = v?.model;
  if (!m || typeof m.name !== 'string' || typeof m.variant !== 'string' || !Number.isInteger(m.dim) || m.dim <= 0 || typeof m.files !== 'object' || m.files === null) {
    throw damaged('no valid model (name, variant, dim, files)');
  }
  if (typeof v.pooling !== 'string') throw damaged('no pooling');
  return v;
}

/** A float32 vector from a database blob, checked against the index's dimension. */
export function vectorFrom(bytes: Uint8Array | null | undefined, dim: number | undefined, at: { table: string; row: number | string; column?: string }): Float32Array {
  const n = bytes instanceof Uint8Array ? bytes.byteLength : -1;
  if (n < 0 || n % 4 !== 0 || (dim !== undefined && n !== dim * 4)) {
    const column = at.column ?? 'vector';
    throw new DataError(
      `the database row ${at.table} ${at.row} has a damaged ${column}: ${n < 0 ? 'not bytes' : `${n} bytes`}, expected ${dim !== undefined ? dim * 4 : 'a multiple of 4'} ` +
        `(${dim ?? '?'} float32); run \`vidsearch doctor --repair\` (it marks the video for re-indexing), then \`vidsearch index <folder>\``,
      { cause: { table: at.table, row: at.row, column, bytes: n, expected: dim !== undefined ? dim * 4 : undefined } },
    );
  }
  return fromBytes(bytes as Uint8Array);
}

function describe(i: StoreIdentity): string {
  return `${i.model.name} (${i.model.variant}, ${i.model.dim}-d, ${i.pooling} pooling${i.pooler ? ` ${i.pooler.sha256.slice(0, 12)}` : ''})`;
}

function tryParseIdentity(value: string): StoreIdentity | null {
  try {
    return parseIdentity(value);
  } catch {
    return null;
  }
}

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

async function bumpGeneration(tx: Tx): Promise<void> {
  await tx.$executeRawUnsafe(
    `INSERT INTO "Setting" ("key", "value") VALUES ('generation', '1') ON CONFLICT("key") DO UPDATE SET "value" = CAST("value" AS INTEGER) + 1`,
  );
}

function tagRows(videoId: number, tags: VideoTags) {
  return tags.entries.flatMap((e) => e.tags.map((t, rank) => ({ videoId, segmentIdx: e.segmentIdx, labelSet: tags.labelSet, rank, label: t.label, score: t.score })));
}

async function deleteVectors(tx: Tx, videoId: number): Promise<number[]> {
  const old = await tx.segment.findMany({ where: { videoId }, select: { id: true } });
  await tx.tag.deleteMany({ where: { videoId } });
  await tx.frame.deleteMany({ where: { videoId } });
  await tx.segment.deleteMany({ where: { videoId } });
  return old.map((s) => s.id);
}

/**
 * Bulk inserts inside the caller's transaction (nothing half-written): one prepared statement on
 * the adapter's own connection (rawConnection: the transaction is open on it), a row at a time.
 * Prisma's createMany builds every row as an object, then one query and its parameters (bytes as
 * base64): saving a 10-hour video (36,000 frames, 8-d vectors, 1.2 MB of vectors) raised peak RSS
 * by 292 MB and took 9.0 s that way, and with 512-d vectors (74 MB) by 1,278 MB in 38 s. This way:
 * 41 MB in 1.5 s (8-d) and 76 MB in 3.8 s (512-d), about the vectors' own size. Measured on this
 * 2-core machine with `node --expose-gc --import tsx test/fixtures/save-rss.ts 36000 8` (and
 * `... 36000 512`), peak RSS sampled every 5 ms. Without the raw connection (another adapter
 * version): Prisma raw SQL in chunks of INSERT_ROWS, which measured 90 MB / 2.5 s (8-d).
 */
const INSERT_ROWS = 500;

async function insertFrames(db: Db, tx: Tx, videoId: number, frames: IndexedVideoInput['frames']): Promise<void> {
  const raw = rawConnection(db);
  if (raw) {
    const st = raw.prepare('INSERT INTO "Frame" ("videoId", "idx", "segmentIdx", "time", "vector") VALUES (?, ?, ?, ?, ?)');
    for (let i = 0; i < frames.length; i++) st.run(videoId, i, frames[i].segmentIdx, frames[i].time, toBytes(frames[i].vector));
    return;
  }
  for (let at = 0; at < frames.length; at += INSERT_ROWS) {
    const n = Math.min(INSERT_ROWS, frames.length - at);
    const params: unknown[] = [];
    for (let i = at; i < at + n; i++) params.push(videoId, i, frames[i].segmentIdx, frames[i].time, toBytes(frames[i].vector));
    await tx.$executeRawUnsafe(`INSERT INTO "Frame" ("videoId", "idx", "segmentIdx", "time", "vector") VALUES ${'(?,?,?,?,?),'.repeat(n).slice(0, -1)}`, ...params);
  }
}

async function insertSegments(db: Db, tx: Tx, videoId: number, segments: SegmentVectors[], packs: Map<number, Uint8Array>): Promise<Array<{ id: number; idx: number }>> {
  const added: Array<{ id: number; idx: number }> = [];
  const raw = rawConnection(db);
  if (raw) {
    const st = raw.prepare('INSERT INTO "Segment" ("videoId", "idx", "start", "end", "frameCount", "vector", "pack") VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING "id"');
    for (const s of segments) {
      const row = st.raw().get(videoId, s.idx, s.start, s.end, s.frameCount, toBytes(s.vector), packs.get(s.idx) ?? null) as [number | bigint];
      added.push({ id: Number(row[0]), idx: s.idx });
    }
    return added;
  }
  for (let at = 0; at < segments.length; at += INSERT_ROWS) {
    const chunk = segments.slice(at, at + INSERT_ROWS);
    const params = chunk.flatMap((s) => [videoId, s.idx, s.start, s.end, s.frameCount, toBytes(s.vector), packs.get(s.idx) ?? null]);
    const rows = await tx.$queryRawUnsafe<Array<{ id: number | bigint; idx: number | bigint }>>(
      `INSERT INTO "Segment" ("videoId", "idx", "start", "end", "frameCount", "vector", "pack") VALUES ${'(?,?,?,?,?,?,?),'.repeat(chunk.length).slice(0, -1)} RETURNING "id", "idx"`,
      ...params,
    );
    for (const r of rows) added.push({ id: Number(r.id), idx: Number(r.idx) });
  }
  return added;
}

export interface OpenStoreOptions {
  /** take the writer lock (index, daemon); readers (search, web app) don't */
  writer?: boolean;
  /** the identity of the model in use; omitted only by tools that read metadata (stats) */
  identity?: StoreIdentity;
  /** accept an index made with another model because the caller is about to reset it */
  replacing?: boolean;
  /** accept an index of the same model pooled another way because the caller is about to re-pool it */
  repooling?: boolean;
  /** where repairs are reported (a damaged or out-of-step index rebuilt); default: a line on stderr */
  log?: (line: string) => void;
}

const stderrLine = (line: string) => process.stderr.write(`${line}\n`);

export class Store {
  private dirty = false;
  private lastSave = 0;
  private ann: SegmentIndex | undefined;
  private databaseUrl = '';
  private reader: ReturnType<typeof openReader> | undefined;
  private readonly statements = new Map<string, Statement>();
  /** the identity row as last read, so a reader re-parses it only when a writer changed it */
  private seenIdentity: string | undefined;
  private log: (line: string) => void = stderrLine;
  /** why this process last rebuilt the index from the database instead of loading the published file */
  indexRebuilt: string | null = null;

  private constructor(
    readonly db: Db,
    readonly home: string,
    private lock: WriterLock | undefined,
    readonly identity: StoreIdentity | null,
    /** the model this process encodes queries with; an index made with another is refused */
    private readonly expected?: StoreIdentity,
  ) {}

  static async open(cfg: Pick<Config, 'home' | 'databaseUrl'>, opts: OpenStoreOptions = {}): Promise<Store> {
    const lock = opts.writer ? acquireWriterLock(cfg.home) : undefined;
    let db: Db | undefined;
    try {
      db = await openDb(cfg.databaseUrl);
      const row = await db.setting.findUnique({ where: { key: 'identity' } });
      // A caller about to replace the identity (index --reindex) does not need a damaged one.
      const stored: StoreIdentity | null = !row ? null : opts.replacing ? tryParseIdentity(row.value) : parseIdentity(row.value);
      const samePoolable = !!stored && !!opts.identity && modelKey(stored) === modelKey(opts.identity);
      if (stored && opts.identity && !opts.replacing && identityKey(stored) !== identityKey(opts.identity) && !(opts.repooling && samePoolable)) {
        if (samePoolable) {
          throw new StoreError(
            `the index in ${cfg.home} was pooled as ${describe(stored)}, but the configuration asks for ${describe(opts.identity)}; ` +
              `re-pool it from the stored frame vectors (no decoding) with \`vidsearch index --repool\` and the same pooling settings, or set --pooling/VIDSEARCH_POOLING back`,
            { cause: { stored, current: opts.identity } },
          );
        }
        throw new StoreError(
          `the index in ${cfg.home} was built with ${describe(stored)}, but the current model is ${describe(opts.identity)}; ` +
            `vectors of different models cannot be compared: set VIDSEARCH_MODEL/--variant back, use another data directory (VIDSEARCH_HOME), ` +
            `or re-index everything with \`vidsearch index --reindex <folder>\``,
          { cause: { stored, current: opts.identity } },
        );
      }
      const store = new Store(db, cfg.home, lock, opts.replacing ? null : (stored ?? null), opts.identity);
      store.databaseUrl = cfg.databaseUrl;
      if (opts.log) store.log = opts.log;
      if (store.identity) {
        store.seenIdentity = row!.value;
        store.ann = new SegmentIndex(cfg.home, store.identity.model.dim);
        await store.syncIndex();
      }
      return store;
    } catch (err) {
      await db?.$disconnect();
      lock?.release();
      throw err;
    }
  }

  get isWriter(): boolean {
    return !!this.lock;
  }

  private requireWriter(): void {
    if (!this.lock) throw new StoreError('this store was opened read-only', { cause: { home: this.home } });
  }

  private requireAnn(): SegmentIndex {
    if (!this.ann) throw new StoreError('no model identity recorded yet: index some videos first', { cause: { home: this.home } });
    return this.ann;
  }

  async generation(): Promise<number> {
    const row = await this.db.setting.findUnique({ where: { key: 'generation' } });
    return row ? Number(row.value) : 0;
  }

  /** Drops every video and vector, and records `identity` as the model of the new index. */
  async reset(identity: StoreIdentity): Promise<void> {
    this.requireWriter();
    await this.db.$transaction(async (tx) => {
      await tx.tag.deleteMany({});
      await tx.frame.deleteMany({});
      await tx.segment.deleteMany({});
      await tx.video.deleteMany({});
      await tx.setting.upsert({ where: { key: 'identity' }, create: { key: 'identity', value: JSON.stringify(identity) }, update: { value: JSON.stringify(identity) } });
      await bumpGeneration(tx);
    });
    (this as { identity: StoreIdentity | null }).identity = identity;
    this.ann = new SegmentIndex(this.home, identity.model.dim);
    this.ann.reset();
    this.ann.save(await this.generation());
  }

  /** Records the model identity on the first write. */
  async claimIdentity(identity: StoreIdentity): Promise<void> {
    this.requireWriter();
    if (this.identity) return;
    await this.db.setting.create({ data: { key: 'identity', value: JSON.stringify(identity) } });
    (this as { identity: StoreIdentity | null }).identity = identity;
    this.ann = new SegmentIndex(this.home, identity.model.dim);
    await this.syncIndex();
  }

  /**
   * Brings the in-memory HNSW index in step with the database: loads the published file, or
   * rebuilds it from the database when it is missing, damaged (checksum), or out of step: another
   * generation, or another set of segment ids than the database holds (a lost write: two writers,
   * rows changed behind the index's back). A reader rebuilds in memory and publishes only if no
   * writer is active. Costs the file's checksum and one count over the Segment ids (DIGEST_SQL:
   * see dbDigest for its measured cost); refresh() calls it only when a new file is published.
   */
  async syncIndex(): Promise<'loaded' | 'rebuilt' | 'stale'> {
    const ann = this.requireAnn();
    const generation = await this.generation();
    const loaded = ann.load();
    let problem: string | undefined = ann.loadError;
    if (loaded) {
      if (ann.pointer!.generation === generation) {
        const db = this.dbDigest();
        if (db === ann.digest) return 'loaded';
        problem = `is out of step with the database: it holds ${ann.digest.split(':')[0]} segment vectors, the database ${db.split(':')[0]}${db.split(':')[0] === ann.digest.split(':')[0] ? ' (other ids)' : ''}`;
      } else {
        // A live writer publishes its changes itself; until then its last file is the best we have.
        if (!this.lock && writerActive(this.home)) return 'stale';
        problem = undefined; // an older generation: the last writer stopped before publishing (normal after a crash)
      }
    }
    if (problem && problem !== 'missing') {
      this.log(`vidsearch: the HNSW index in ${ann.dir} ${problem}; rebuilding it from the database`);
      this.indexRebuilt = problem;
    }
    await this.rebuildIndex();
    return 'rebuilt';
  }

  /**
   * The database's digest of its segment ids (idDigest in ann.ts), on the Prisma-free connection.
   * One pass over the covering (videoId, idx) index: 28-35 ms at 100,000 segments (measured with a
   * scratch script, bench/_digest.ts: 100,000 rows of 2 KB vectors and 5.5 KB packs, an 822 MB
   * database, page-cached, this 2-core machine), so it runs at open, at each publish and in
   * stats/doctor, never per search.
   */
  dbDigest(): string {
    return digestOfRow(this.prepared(DIGEST_SQL).get() as unknown[]);
  }

  async rebuildIndex(): Promise<void> {
    const ann = this.requireAnn();
    const generation = await this.generation();
    const count = await this.db.segment.count();
    ann.reset(count + 16);
    let cursor = 0;
    for (;;) {
      const rows = await this.db.segment.findMany({ where: { id: { gt: cursor } }, orderBy: { id: 'asc' }, take: 2000, select: { id: true, vector: true } });
      if (rows.length === 0) break;
      for (const r of rows) ann.add(r.id, vectorFrom(r.vector, ann.dim, { table: 'Segment', row: r.id }));
      cursor = rows[rows.length - 1].id;
    }
    if (this.lock) {
      ann.save(generation);
      return;
    }
    if (writerActive(this.home)) return;
    try {
      const lock = acquireWriterLock(this.home, 'rebuild index');
      try {
        ann.save(generation);
      } finally {
        lock.release();
      }
    } catch {
      // a writer started meanwhile: it will publish its own file
    }
  }

  /**
   * A reader follows the writers: a newly published index is loaded, and the identity is re-read
   * (one indexed lookup), since a writer may have re-pooled the library or re-indexed it with
   * another model since this reader opened. Another pooling is fine (a reader pools nothing);
   * another model is refused, as at open. Costs one stat and one indexed lookup.
   */
  async refresh(): Promise<void> {
    if (!this.lock) {
      const value = await this.setting('identity');
      if (value && value !== this.seenIdentity) await this.adoptIdentity(value);
    }
    if (this.ann?.changedOnDisk()) await this.syncIndex();
  }

  private async adoptIdentity(value: string): Promise<void> {
    const stored = parseIdentity(value);
    if (this.expected && modelKey(stored) !== modelKey(this.expected)) {
      throw new StoreError(
        `the index in ${this.home} was built with ${describe(stored)}, but this process uses ${describe(this.expected)}: restart it with the same VIDSEARCH_MODEL/--variant/pooling`,
        { cause: { stored, current: this.expected } },
      );
    }
    this.seenIdentity = value;
    (this as { identity: StoreIdentity | null }).identity = stored;
    if (this.ann?.dim === stored.model.dim) return;
    this.ann = new SegmentIndex(this.home, stored.model.dim);
    await this.syncIndex();
  }

  /** Publishes the index if it changed, at most every `minIntervalMs` (0: now). */
  async flushIndex(minIntervalMs = 0): Promise<IndexPointer | undefined> {
    if (!this.ann || !this.lock || !this.dirty) return undefined;
    if (minIntervalMs > 0 && Date.now() - this.lastSave < minIntervalMs) return undefined;
    // Publish only what the database holds: if another writer (or anything else) changed the
    // segment rows behind this process's back, its in-memory index is missing vectors; rebuild.
    let db = this.dbDigest();
    if (db !== this.ann.digest) {
      // Another save of this process may have committed and not yet applied its index changes
      // (they follow the commit by a few promise hops, all microtasks): look again after them.
      await new Promise((resolve) => setImmediate(resolve));
      db = this.dbDigest();
    }
    if (db !== this.ann.digest) {
      const problem = `is out of step with the database before publishing: it holds ${this.ann.digest.split(':')[0]} segment vectors, the database ${db.split(':')[0]}`;
      this.log(`vidsearch: the HNSW index in ${this.ann.dir} ${problem}; rebuilding it from the database`);
      this.indexRebuilt = problem;
      await this.rebuildIndex();
      this.dirty = false;
      this.lastSave = Date.now();
      return this.ann.pointer;
    }
    const pointer = this.ann.save(await this.generation());
    this.dirty = false;
    this.lastSave = Date.now();
    return pointer;
  }

  searchSegments(vector: Float32Array, k: number): Hit[] {
    return this.ann ? this.ann.search(vector, k) : [];
  }

  /**
   * What the searchable segment set is now: the live ids' digest, their count and the identity
   * (a re-pool changes the vectors, not the ids). Equal keys: the same vectors. In memory, no I/O.
   */
  segmentSet(): { key: string; count: number } {
    return { key: `${this.ann?.digest ?? ''}|${this.identity ? identityKey(this.identity) : ''}`, count: this.ann?.size ?? 0 };
  }

  /**
   * Up to `n` segment vectors spread evenly over the library in id order (the same choice in
   * every process): the background a query's scores are judged against
   * (relevance.ts). Reads every id once (the covering (videoId, idx) index, not the rows) and the
   * chosen rows by id.
   */
  async sampleSegments(n: number): Promise<Float32Array[]> {
    const ids = (this.prepared('SELECT "id" FROM "Segment"').all() as Array<[number]>).sort((a, b) => a[0] - b[0]);
    const step = Math.max(1, ids.length / n);
    const chosen: number[] = [];
    for (let at = 0; Math.floor(at) < ids.length && chosen.length < n; at += step) chosen.push(ids[Math.floor(at)][0]);
    const rows = this.readById('SELECT "id", "vector" FROM "Segment" WHERE "id" IN (SELECT value FROM json_each(?))', chosen);
    const dim = this.identity?.model.dim;
    return rows.map((r) => vectorFrom(r[1] as Uint8Array, dim, { table: 'Segment', row: r[0] as number }));
  }

  async videoByPath(file: string): Promise<VideoRecord | null> {
    const r = await this.db.video.findUnique({ where: { path: file }, select: VIDEO_FIELDS });
    return r ? toVideo(r) : null;
  }

  async video(id: number): Promise<VideoRecord | null> {
    const r = await this.db.video.findUnique({ where: { id }, select: VIDEO_FIELDS });
    return r ? toVideo(r) : null;
  }

  /**
   * A page of videos, by path unless `sort` says otherwise. `dir`, `name` and `sort` are the
   * library page's browsing: they go through one SQL query (below) because a file name is not a
   * column, so Prisma can neither sort nor search by it.
   */
  async videos(opts: VideoQuery & { offset?: number; limit?: number; ids?: number[] } = {}): Promise<VideoRecord[]> {
    if (opts.dir !== undefined || opts.name || (opts.sort && opts.sort !== 'path')) {
      const order = this.prepared(`SELECT "id" ${browseSql(opts)} ORDER BY ${BROWSE_ORDER[opts.sort ?? 'path']} LIMIT ? OFFSET ?`)
        .all(...browseArgs(opts), opts.limit ?? -1, opts.offset ?? 0)
        .map((r) => Number((r as [number | bigint])[0]));
      const rows = await this.db.video.findMany({ where: { id: { in: order } }, select: VIDEO_FIELDS });
      const byId = new Map(rows.map((r) => [r.id, toVideo(r)]));
      return order.flatMap((id) => byId.get(id) ?? []);
    }
    const rows = await this.db.video.findMany({
      where: { status: opts.status, id: opts.ids ? { in: opts.ids } : undefined },
      orderBy: { path: 'asc' },
      skip: opts.offset,
      take: opts.limit,
      select: VIDEO_FIELDS,
    });
    return rows.map(toVideo);
  }

  async countVideos(query?: VideoStatus | VideoQuery): Promise<number> {
    const q = typeof query === 'object' ? query : { status: query };
    if (q.dir !== undefined || q.name) return Number((this.prepared(`SELECT count(*) ${browseSql(q)}`).get(...browseArgs(q)) as [number | bigint])[0]);
    return this.db.video.count({ where: { status: q.status } });
  }

  /** Every folder that directly holds a video, with how many it holds, by path. */
  async videoFolders(): Promise<Array<{ dir: string; videos: number }>> {
    const rows = this.prepared(`SELECT substr("path", 1, length("path") - length(${BASENAME}) - 1) AS d, count(*) FROM "Video" GROUP BY d ORDER BY d`).all() as Array<[string, number | bigint]>;
    return rows.map(([dir, n]) => ({ dir, videos: Number(n) }));
  }

  /** Videos whose path lies inside `dir`. */
  async videosUnder(dir: string): Promise<VideoRecord[]> {
    const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
    const rows = await this.db.video.findMany({ where: { path: { startsWith: prefix } }, select: VIDEO_FIELDS });
    return rows.map(toVideo);
  }

  /** New files waiting to be indexed show as pending; known ones keep their vectors until replaced. */
  async markPendingMany(files: Array<{ path: string; size: number; mtimeMs: number }>): Promise<void> {
    this.requireWriter();
    if (files.length === 0) return;
    const known = new Set(
      (await this.db.video.findMany({ where: { path: { in: files.map((f) => f.path) } }, select: { path: true } })).map((v) => v.path),
    );
    const fresh = files.filter((f) => !known.has(f.path));
    if (fresh.length) await this.db.video.createMany({ data: fresh.map((f) => ({ path: f.path, size: BigInt(f.size), mtimeMs: f.mtimeMs, status: 'pending' })) });
  }

  async videosWithFingerprint(size: number, fingerprint: string): Promise<VideoRecord[]> {
    const rows = await this.db.video.findMany({ where: { size: BigInt(size), fingerprint }, select: VIDEO_FIELDS });
    return rows.map(toVideo);
  }

  /** A renamed or moved file keeps its id and vectors; a pending row at the new path gives way. */
  async moveVideo(id: number, to: string, stamp: { size: number; mtimeMs: number }): Promise<void> {
    this.requireWriter();
    const removed = await this.db.$transaction(async (tx) => {
      const squatter = await tx.video.findUnique({ where: { path: to }, select: { id: true, status: true } });
      let removed: number[] = [];
      if (squatter && squatter.id !== id) {
        removed = await deleteVectors(tx, squatter.id);
        await tx.video.delete({ where: { id: squatter.id } });
      }
      await tx.video.update({ where: { id }, data: { path: to, size: BigInt(stamp.size), mtimeMs: stamp.mtimeMs } });
      await bumpGeneration(tx);
      return removed;
    });
    // Only after the commit: a rolled-back transaction must leave the index with every vector the
    // database still holds.
    for (const sid of removed) this.ann?.remove(sid);
    // Paths live only in the database; the HNSW index holds segment ids, which did not change.
    this.dirty = true;
  }

  /** Replaces a video's rows and vectors in one transaction, then updates the HNSW index. */
  async saveIndexed(input: IndexedVideoInput): Promise<{ videoId: number; segments: number; frames: number }> {
    this.requireWriter();
    const ann = this.requireAnn();
    const data = {
      size: BigInt(input.size),
      mtimeMs: input.mtimeMs,
      fingerprint: input.fingerprint ?? null,
      status: 'indexed',
      error: null,
      duration: input.probe.duration,
      width: input.probe.width,
      height: input.probe.height,
      fps: input.probe.fps,
      rotation: input.probe.rotation,
      codec: input.probe.codec,
      frameCount: input.frames.length,
      segmentCount: input.segments.length,
      vector: toBytes(input.video),
      indexedAt: new Date(),
    };
    const { videoId, removed, added } = await this.db.$transaction(
      async (tx) => {
        const existing = await tx.video.findUnique({ where: { path: input.path }, select: { id: true } });
        const removed = existing ? await deleteVectors(tx, existing.id) : [];
        const video = existing
          ? await tx.video.update({ where: { id: existing.id }, data, select: { id: true } })
          : await tx.video.create({ data: { path: input.path, ...data }, select: { id: true } });
        const packs = packSegments(input.frames);
        const added = await insertSegments(this.db, tx, video.id, input.segments, packs);
        await insertFrames(this.db, tx, video.id, input.frames);
        if (input.tags) await tx.tag.createMany({ data: tagRows(video.id, input.tags) });
        await bumpGeneration(tx);
        return { videoId: video.id, removed, added };
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
    for (const id of removed) ann.remove(id);
    const byIdx = new Map(input.segments.map((s) => [s.idx, s.vector]));
    for (const s of added) ann.add(s.id, byIdx.get(s.idx)!);
    this.dirty = true;
    return { videoId, segments: added.length, frames: input.frames.length };
  }

  /** Records a failure; the file's old vectors (if any) go, since they describe other content. */
  async markFailed(file: string, size: number, mtimeMs: number, error: string): Promise<number> {
    this.requireWriter();
    const { id, removed } = await this.db.$transaction(async (tx) => {
      const existing = await tx.video.findUnique({ where: { path: file }, select: { id: true } });
      const removed = existing ? await deleteVectors(tx, existing.id) : [];
      const data = { size: BigInt(size), mtimeMs, status: 'failed', error, vector: null, frameCount: 0, segmentCount: 0, indexedAt: null };
      const video = existing
        ? await tx.video.update({ where: { id: existing.id }, data, select: { id: true } })
        : await tx.video.create({ data: { path: file, ...data }, select: { id: true } });
      await bumpGeneration(tx);
      return { id: video.id, removed };
    });
    if (removed.length) {
      for (const sid of removed) this.ann?.remove(sid);
      this.dirty = true;
    }
    return id;
  }

  async removeVideo(id: number): Promise<void> {
    this.requireWriter();
    const removed = await this.db.$transaction(async (tx) => {
      const ids = await deleteVectors(tx, id);
      await tx.video.delete({ where: { id } });
      await bumpGeneration(tx);
      return ids;
    });
    for (const sid of removed) this.ann?.remove(sid);
    if (removed.length) this.dirty = true;
  }

  /** Replaces a video's tags for one label set (re-tagging from stored vectors). */
  async replaceTags(videoId: number, tags: VideoTags): Promise<void> {
    this.requireWriter();
    await this.db.$transaction([
      this.db.tag.deleteMany({ where: { videoId, labelSet: tags.labelSet } }),
      this.db.tag.createMany({ data: tagRows(videoId, tags) }),
    ]);
  }

  /** Tags of some videos for a label set: videoId → segmentIdx (-1: whole video) → ranked tags. */
  async tags(videoIds: number[], labelSet: string): Promise<Map<number, Map<number, TagRecord[]>>> {
    const rows = this.readById(
      'SELECT "videoId", "segmentIdx", "label", "score" FROM "Tag" WHERE "labelSet" = ? AND "videoId" IN (SELECT value FROM json_each(?)) ORDER BY "videoId", "segmentIdx", "rank"',
      videoIds,
      [labelSet],
    ).map(([videoId, segmentIdx, label, score]) => ({ videoId, segmentIdx, label, score }) as { videoId: number; segmentIdx: number; label: string; score: number });
    const out = new Map<number, Map<number, TagRecord[]>>();
    for (const r of rows) {
      const perVideo = out.get(r.videoId) ?? new Map<number, TagRecord[]>();
      const list = perVideo.get(r.segmentIdx) ?? [];
      list.push({ label: r.label, score: r.score });
      perVideo.set(r.segmentIdx, list);
      out.set(r.videoId, perVideo);
    }
    return out;
  }

  /**
   * Where a label applies: segments (and videos, segmentIdx -1) whose top label it is, or whose
   * probability for it reaches `minScore`.
   */
  async tagged(labelSet: string, label: string, minScore = 0.1): Promise<Array<{ videoId: number; segmentIdx: number; score: number }>> {
    return this.db.tag.findMany({
      where: { labelSet, label, OR: [{ rank: 0 }, { score: { gte: minScore } }] },
      select: { videoId: true, segmentIdx: true, score: true },
    });
  }

  /** Videos per top label of the whole video, most common first (browse by action). */
  async labelCounts(labelSet: string): Promise<Array<{ label: string; videos: number }>> {
    const groups = await this.db.tag.groupBy({ by: ['label'], where: { labelSet, segmentIdx: -1, rank: 0 }, _count: { _all: true } });
    return groups.map((g) => ({ label: g.label, videos: g._count._all })).sort((a, b) => b.videos - a.videos || a.label.localeCompare(b.label));
  }

  async setting(key: string): Promise<string | undefined> {
    const row = this.prepared('SELECT "value" FROM "Setting" WHERE "key" = ?').get(key) as [string] | undefined;
    return row?.[0];
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.requireWriter();
    await this.db.setting.upsert({ where: { key }, create: { key, value }, update: { value } });
  }

  /**
   * Recomputes every segment and video vector from the stored frame vectors with `pool` (nothing
   * is decoded), records `identity`, and rebuilds the HNSW index. One transaction: readers keep
   * the old vectors until it commits, and an interrupted re-pool leaves the old index whole.
   */
  async repool(
    identity: StoreIdentity,
    pool: (groups: Float32Array[][]) => Promise<Float32Array[]>,
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ videos: number; segments: number }> {
    this.requireWriter();
    const ids = (await this.db.video.findMany({ where: { status: 'indexed' }, orderBy: { id: 'asc' }, select: { id: true } })).map((v) => v.id);
    let segments = 0;
    await this.db.$transaction(
      async (tx) => {
        // A few videos per pooling call, so a learned pooler runs in batches.
        for (let at = 0; at < ids.length; at += 32) {
          const batch = ids.slice(at, at + 32);
          const frames = await tx.frame.findMany({ where: { videoId: { in: batch } }, orderBy: [{ videoId: 'asc' }, { idx: 'asc' }], select: { id: true, videoId: true, segmentIdx: true, time: true, vector: true } });
          const segs = await tx.segment.findMany({ where: { videoId: { in: batch } }, orderBy: [{ videoId: 'asc' }, { idx: 'asc' }], select: { id: true, videoId: true, idx: true } });
          const groups = new Map<string, Float32Array[]>();
          const whole = new Map<number, Float32Array[]>();
          const timed = new Map<number, Array<{ time: number; segmentIdx: number; vector: Float32Array }>>();
          for (const f of frames) {
            const v = vectorFrom(f.vector, this.identity?.model.dim, { table: 'Frame', row: f.id });
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
          for (const [i, sg] of withFrames.entries()) {
            await tx.segment.update({ where: { id: sg.id }, data: { vector: toBytes(pooled[i]), pack: packs.get(sg.videoId)?.get(sg.idx) ?? null } });
          }
          for (const [i, id] of videos.entries()) await tx.video.update({ where: { id }, data: { vector: toBytes(pooled[withFrames.length + i]) } });
          segments += withFrames.length;
          onProgress?.(Math.min(at + batch.length, ids.length), ids.length);
        }
        await tx.setting.upsert({ where: { key: 'identity' }, create: { key: 'identity', value: JSON.stringify(identity) }, update: { value: JSON.stringify(identity) } });
        await bumpGeneration(tx);
      },
      { timeout: 24 * 3600_000, maxWait: 30_000 },
    );
    (this as { identity: StoreIdentity | null }).identity = identity;
    this.ann = new SegmentIndex(this.home, identity.model.dim);
    await this.rebuildIndex();
    this.dirty = false;
    return { videos: ids.length, segments };
  }

  /** Packed frames (framepack.ts) of some segments by id; segments without a pack are left out. */
  async segmentPacks(ids: number[]): Promise<Map<number, PackedFrames>> {
    const rows = this.readById('SELECT "id", "pack" FROM "Segment" WHERE "id" IN (SELECT value FROM json_each(?)) AND "pack" IS NOT NULL', ids);
    return new Map(rows.map(([id, pack]) => [id as number, readPack(pack as Uint8Array)]));
  }

  /**
   * Frame vectors of some segments, keyed "videoId:segmentIdx", in time order (for re-ranking).
   * One query on the Prisma-free reader connection: this is on the search path.
   */
  async segmentFrames(segments: Array<{ videoId: number; idx: number }>): Promise<Map<string, FrameRecord[]>> {
    const out = new Map<string, FrameRecord[]>();
    const seen = new Set<string>();
    const params: number[] = [];
    for (const s of segments) {
      const key = `${s.videoId}:${s.idx}`;
      if (seen.has(key)) continue;
      seen.add(key);
      params.push(s.videoId, s.idx);
    }
    for (let at = 0; at < params.length; at += 2 * 4096) {
      const chunk = params.slice(at, at + 2 * 4096);
      this.reader ??= openReader(this.databaseUrl);
      // No ORDER BY: it would make SQLite walk whole videos by (videoId, idx); the row order of the
      // (videoId, segmentIdx) index is sorted below instead.
      // raw(): rows as arrays [videoId, segmentIdx, idx, time, vector, id], cheaper than objects.
      const rows = this.reader
        .prepare(`SELECT "videoId", "segmentIdx", "idx", "time", "vector", "id" FROM "Frame" WHERE ("videoId", "segmentIdx") IN (VALUES ${'(?,?),'.repeat(chunk.length / 2).slice(0, -1)})`)
        .raw()
        .all(...chunk) as Array<[number, number, number, number, Uint8Array, number]>;
      rows.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
      const bytesPerVector = (this.identity?.model.dim ?? 0) * 4;
      for (const [videoId, segmentIdx, idx, time, bytes, id] of rows) {
        const key = `${videoId}:${segmentIdx}`;
        // One comparison a row: a damaged blob is named here instead of scoring as NaN.
        if (!(bytes instanceof Uint8Array) || (bytesPerVector && bytes.byteLength !== bytesPerVector)) vectorFrom(bytes, this.identity?.model.dim, { table: 'Frame', row: id });
        const vector = bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) : fromBytes(bytes);
        const frame = { idx, segmentIdx, time, vector };
        const list = out.get(key);
        if (list) list.push(frame);
        else out.set(key, [frame]);
      }
    }
    return out;
  }

  // The search path reads through the Prisma-free reader connection: a Prisma query costs about a
  // millisecond of engine round trip before any row, and a search makes several (bench/_prof).

  /**
   * Rows by id on the read-only connection. The ids travel as one JSON array (json_each), so each
   * query is prepared once and reused whatever the number of ids; raw() rows (arrays) are about
   * twice as cheap to make as objects.
   */
  private readById(sql: string, ids: number[], leading: unknown[] = []): unknown[][] {
    return ids.length ? (this.prepared(sql).all(...leading, JSON.stringify(ids)) as unknown[][]) : [];
  }

  private prepared(sql: string): Statement {
    this.reader ??= openReader(this.databaseUrl);
    let st = this.statements.get(sql);
    if (!st) {
      st = this.reader.prepare(sql).raw();
      this.statements.set(sql, st);
    }
    return st;
  }

  async segments(ids: number[]): Promise<SegmentRecord[]> {
    const rows = this.readById('SELECT "id", "videoId", "idx", "start", "end", "frameCount" FROM "Segment" WHERE "id" IN (SELECT value FROM json_each(?))', ids);
    return rows.map(([id, videoId, idx, start, end, frameCount]) => ({ id, videoId, idx, start, end, frameCount }) as SegmentRecord);
  }

  /** What a search result shows of its videos: path, duration, status. */
  async videoBriefs(ids: number[]): Promise<Map<number, Pick<VideoRecord, 'id' | 'path' | 'duration' | 'status'>>> {
    const rows = this.readById('SELECT "id", "path", "duration", "status" FROM "Video" WHERE "id" IN (SELECT value FROM json_each(?))', ids);
    return new Map(rows.map(([id, path, duration, status]) => [id as number, { id, path, duration, status } as Pick<VideoRecord, 'id' | 'path' | 'duration' | 'status'>]));
  }

  async videoVector(videoId: number): Promise<Float32Array | undefined> {
    const r = await this.db.video.findUnique({ where: { id: videoId }, select: { vector: true } });
    return r?.vector ? vectorFrom(r.vector, this.identity?.model.dim, { table: 'Video', row: videoId }) : undefined;
  }

  async videoSegments(videoId: number): Promise<Array<SegmentRecord & { vector: Float32Array }>> {
    const rows = await this.db.segment.findMany({ where: { videoId }, orderBy: { idx: 'asc' }, omit: { pack: true } });
    return rows.map((r) => ({ ...r, vector: vectorFrom(r.vector, this.identity?.model.dim, { table: 'Segment', row: r.id }) }));
  }

  async frames(videoId: number, segmentIdxs?: number[]): Promise<FrameRecord[]> {
    const rows = await this.db.frame.findMany({
      where: { videoId, segmentIdx: segmentIdxs ? { in: segmentIdxs } : undefined },
      orderBy: { idx: 'asc' },
      select: { id: true, idx: true, segmentIdx: true, time: true, vector: true },
    });
    return rows.map((r) => ({ idx: r.idx, segmentIdx: r.segmentIdx, time: r.time, vector: vectorFrom(r.vector, this.identity?.model.dim, { table: 'Frame', row: r.id }) }));
  }

  /** Video counts by status, the identity and the index: one grouped count over the videos. */
  async summary(): Promise<Summary> {
    const [groups, generation] = await Promise.all([this.db.video.groupBy({ by: ['status'], _count: { _all: true } }), this.generation()]);
    const videos = { pending: 0, indexed: 0, failed: 0, total: 0 };
    for (const g of groups) {
      videos[g.status as VideoStatus] = g._count._all;
      videos.total += g._count._all;
    }
    const p = this.ann?.pointer;
    return {
      videos,
      identity: this.identity,
      index: {
        vectors: this.ann?.size ?? 0,
        bytes: this.ann?.fileBytes() ?? 0,
        generation: p?.generation ?? null,
        file: p ? path.join(this.ann!.dir, p.file) : null,
        inStep: p?.generation === generation,
        rebuilt: this.indexRebuilt,
      },
      generation,
    };
  }

  /**
   * The summary plus segment and frame counts, for `vidsearch stats`. Counting a million frame
   * rows takes ~80 ms, which is why the app's pages and health check use summary().
   */
  async stats(): Promise<Stats> {
    const [summary, segments, frames] = await Promise.all([this.summary(), this.db.segment.count(), this.db.frame.count()]);
    // The real check, not just the generation: the index holds exactly the database's segment ids.
    if (this.ann) summary.index.inStep &&= this.dbDigest() === this.ann.digest;
    return { ...summary, segments, frames };
  }

  async close(): Promise<void> {
    try {
      await this.flushIndex();
    } finally {
      await this.db.$disconnect();
      this.reader?.close();
      this.reader = undefined;
      this.statements.clear();
      this.lock?.release();
      this.lock = undefined;
    }
  }
}
