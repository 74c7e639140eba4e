// The rules that keep the HNSW index (io/ann/ann.ts, a cache of the segment vectors) in step with
// the database (the truth): load the published file and check it against the database's segment-id
// digest and generation, rebuild it from the database when it is missing, damaged or out of step,
// publish a writer's changes (checked again first), and follow a file another process published.
// The database side comes in as an IndexSource (core/storage.ts), so any backend can sit under it.
import type { IndexSource } from '../core/storage';
import { SegmentIndex, type Hit, type IndexPointer } from '../io/ann/ann';
import { acquireWriterLock, writerActive } from '../io/files/lock';

export class IndexSync {
  private ann: SegmentIndex | undefined;
  private dirty = false;
  private lastSave = 0;
  /** why this process last rebuilt the index from the database instead of loading the published file */
  rebuilt: string | null = null;

  constructor(
    private readonly home: string,
    private readonly source: IndexSource,
    /** whether this process holds the writer lock: only a writer publishes freely */
    private readonly isWriter: () => boolean,
    private readonly log: (line: string) => void,
  ) {}

  /** the in-memory index, if a model identity is known */
  get index(): SegmentIndex | undefined {
    return this.ann;
  }

  get dim(): number | undefined {
    return this.ann?.dim;
  }

  /** A fresh (empty, not loaded) index for vectors of `dim` dimensions. */
  attach(dim: number): SegmentIndex {
    this.ann = new SegmentIndex(this.home, dim);
    return this.ann;
  }

  /** An empty index, published at once (a reset library). */
  async publishEmpty(dim: number): Promise<void> {
    const ann = this.attach(dim);
    ann.reset();
    ann.save(await this.source.generation());
  }

  private required(): SegmentIndex {
    if (!this.ann) throw new Error('no HNSW index attached (no model identity recorded yet)');
    return this.ann;
  }

  /**
   * Brings the in-memory HNSW index in step with the database: loads the published file, or
   * rebuilds it from the database when it is missing, damaged (checksum), or out of step: another
   * generation, or another set of segment ids than the database holds (a lost write: two writers,
   * rows changed behind the index's back). A reader rebuilds in memory and publishes only if no
   * writer is active. Costs the file's checksum and one count over the Segment ids (DIGEST_SQL:
   * see IndexSource.digest for its measured cost); refresh() calls it only when a new file is published.
   */
  async sync(): Promise<'loaded' | 'rebuilt' | 'stale'> {
    const ann = this.required();
    const generation = await this.source.generation();
    const loaded = ann.load();
    let problem: string | undefined = ann.loadError;
    if (loaded) {
      if (ann.pointer!.generation === generation) {
        const db = await this.source.digest();
        if (db === ann.digest) return 'loaded';
        problem = `is out of step with the database: it holds ${ann.digest.split(':')[0]} segment vectors, the database ${db.split(':')[0]}${db.split(':')[0] === ann.digest.split(':')[0] ? ' (other ids)' : ''}`;
      } else {
        // A live writer publishes its changes itself; until then its last file is the best we have.
        if (!this.isWriter() && writerActive(this.home)) return 'stale';
        problem = undefined; // an older generation: the last writer stopped before publishing (normal after a crash)
      }
    }
    if (problem && problem !== 'missing') {
      this.log(`vidsearch: the HNSW index in ${ann.dir} ${problem}; rebuilding it from the database`);
      this.rebuilt = problem;
    }
    await this.rebuild();
    return 'rebuilt';
  }

  /** Every segment vector from the database; published by a writer, or by a reader while no writer runs. */
  async rebuild(): Promise<void> {
    const ann = this.required();
    const generation = await this.source.generation();
    const count = await this.source.segmentCount();
    ann.reset(count + 16);
    await this.source.eachVector(ann.dim, (rows) => {
      for (const r of rows) ann.add(r.id, r.vector);
    });
    if (this.isWriter()) {
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

  /** After a committed write: the segment ids it removed and the vectors it added. */
  apply(removed: readonly number[], added: ReadonlyArray<{ id: number; vector: Float32Array }> = []): void {
    for (const id of removed) this.ann?.remove(id);
    for (const s of added) this.ann?.add(s.id, s.vector);
  }

  /** Something changed that the published file should record (a new generation). */
  markDirty(): void {
    this.dirty = true;
  }

  /** After a rebuild that published: nothing left to publish. */
  markClean(): void {
    this.dirty = false;
  }

  /** A newly published file (another process): load it, checked. */
  async followDisk(): Promise<void> {
    if (this.ann?.changedOnDisk()) await this.sync();
  }

  /** Publishes the index if it changed, at most every `minIntervalMs` (0: now). */
  async flush(minIntervalMs = 0): Promise<IndexPointer | undefined> {
    if (!this.ann || !this.isWriter() || !this.dirty) return undefined;
    if (minIntervalMs > 0 && Date.now() - this.lastSave < minIntervalMs) return undefined;
    // Publish only what the database holds: if another writer (or anything else) changed the
    // segment rows behind this process's back, its in-memory index is missing vectors; rebuild.
    let db = await this.source.digest();
    if (db !== this.ann.digest) {
      // Another save of this process may have committed and not yet applied its index changes
      // (they follow the commit by a few promise hops, all microtasks): look again after them.
      await new Promise((resolve) => setImmediate(resolve));
      db = await this.source.digest();
    }
    if (db !== this.ann.digest) {
      const problem = `is out of step with the database before publishing: it holds ${this.ann.digest.split(':')[0]} segment vectors, the database ${db.split(':')[0]}`;
      this.log(`vidsearch: the HNSW index in ${this.ann.dir} ${problem}; rebuilding it from the database`);
      this.rebuilt = problem;
      await this.rebuild();
      this.dirty = false;
      this.lastSave = Date.now();
      return this.ann.pointer;
    }
    const pointer = this.ann.save(await this.source.generation());
    this.dirty = false;
    this.lastSave = Date.now();
    return pointer;
  }

  search(vector: Float32Array, k: number): Hit[] {
    return this.ann ? this.ann.search(vector, k) : [];
  }

  /** The real check, not just the generation: the index holds exactly the database's segment ids. */
  async inStepWithDatabase(): Promise<boolean> {
    return !this.ann || (await this.source.digest()) === this.ann.digest;
  }
}
