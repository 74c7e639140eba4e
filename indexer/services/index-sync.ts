// The rules that keep a process's HNSW index (io/ann/ann.ts, a cache of the segment vectors) in
// step with the database (the truth), whoever writes it. The database logs every insert, delete and
// rewrite of a segment in commit order (the change log, kept by triggers); the index knows the last
// change it reflects and applies the ones after it, so any number of writers in any number of
// processes never leave a reader missing a committed segment. A published file is only a head
// start: it says which change it reflects, is checked (sha256, segment-id digest) before use, and
// anyone may publish one. The database side comes in as an IndexSource (core/storage.ts).
import type { IndexSource } from '../core/storage';
import { SegmentIndex, type Hit, type IndexPointer } from '../io/ann/ann';

export class IndexSync {
  private ann: SegmentIndex | undefined;
  /** the change-log sequence number the in-memory index reflects */
  private applied = 0;
  private lastSave = 0;
  /** why this process last rebuilt the index from the database instead of loading the published file */
  rebuilt: string | null = null;

  constructor(
    private readonly home: string,
    private readonly source: IndexSource,
    private readonly log: (line: string) => void,
  ) {}

  /** the in-memory index, if a model identity is known */
  get index(): SegmentIndex | undefined {
    return this.ann;
  }

  get dim(): number | undefined {
    return this.ann?.dim;
  }

  /** the change this process's index reflects */
  get appliedChange(): number {
    return this.applied;
  }

  /** A fresh (empty, not loaded) index for vectors of `dim` dimensions. */
  attach(dim: number): SegmentIndex {
    this.ann = new SegmentIndex(this.home, dim);
    this.applied = 0;
    return this.ann;
  }

  /** An empty index, published at once (a reset library). */
  async publishEmpty(dim: number): Promise<void> {
    const ann = this.attach(dim);
    ann.reset();
    this.applied = await this.source.lastChange();
    ann.save(await this.source.generation(), this.applied);
  }

  private required(): SegmentIndex {
    if (!this.ann) throw new Error('no HNSW index attached (no model identity recorded yet)');
    return this.ann;
  }

  /**
   * Loads the published file and applies the changes after it, checked against the database's
   * segment-id digest at the same point; rebuilds from the database when the file is missing,
   * damaged, from before the change log, or out of step. Costs the file's checksum and one pass
   * over the Segment ids (DIGEST_SQL, see IndexSource.digest); done at open, not per search.
   */
  async sync(): Promise<'loaded' | 'rebuilt'> {
    const ann = this.required();
    let problem: string | undefined;
    if (!ann.load()) problem = ann.loadError;
    else if (ann.pointer!.seq === undefined) problem = 'was written before the change log (an older vidsearch)';
    else {
      this.applied = ann.pointer!.seq;
      const outcome = await this.catchUp(true);
      if (outcome === 'ok') return 'loaded';
      if (outcome !== 'gap') problem = outcome;
    }
    if (problem && problem !== 'missing') {
      this.log(`vidsearch: the HNSW index in ${ann.dir} ${problem}; rebuilding it from the database`);
      this.rebuilt = problem;
    }
    await this.rebuild();
    return 'rebuilt';
  }

  /**
   * Applies the changes after the last one applied. 'ok'; 'gap' when they are no longer all kept
   * (a published file covers them: load it); or what is wrong when, asked to check, the index
   * does not hold exactly the database's segment ids afterwards.
   */
  private async catchUp(check: boolean): Promise<'ok' | 'gap' | string> {
    const ann = this.required();
    const c = await this.source.changesSince(this.applied, ann.dim, check);
    if (c.gap) return 'gap';
    for (const id of c.removed) ann.remove(id);
    for (const s of c.added) ann.add(s.id, s.vector);
    for (const s of c.updated) ann.update(s.id, s.vector);
    this.applied = c.last;
    if (check && c.digest !== ann.digest) {
      const [have, want] = [ann.digest.split(':')[0], c.digest!.split(':')[0]];
      return `is out of step with the database: it holds ${have} segment vectors, the database ${want}${have === want ? ' (other ids)' : ''}`;
    }
    return 'ok';
  }

  /**
   * Follows the writers: applies what they committed since the last look. One indexed lookup when
   * nothing changed, so a search calls it every time; committed segments are searchable at once.
   */
  async follow(): Promise<void> {
    if (!this.ann) return;
    if ((await this.source.lastChange()) === this.applied) return;
    if ((await this.catchUp(false)) === 'gap') await this.sync();
  }

  /** Every segment vector from the database, then what changed meanwhile; published. */
  async rebuild(): Promise<void> {
    const ann = this.required();
    const count = await this.source.segmentCount();
    ann.reset(count + 16);
    this.applied = await this.source.eachVector(ann.dim, (rows) => {
      for (const r of rows) ann.add(r.id, r.vector);
    });
    await this.catchUp(false);
    await this.publish();
  }

  private async publish(): Promise<IndexPointer> {
    const ann = this.required();
    const before = ann.pointer?.seq;
    const pointer = ann.save(await this.source.generation(), this.applied);
    this.lastSave = Date.now();
    // The changes the previous file needed are covered by this one: a reader that has not applied
    // them yet loads this file instead (the 'gap' of catchUp).
    if (before !== undefined && before > 0 && before < this.applied) await this.source.pruneChanges(before);
    return pointer;
  }

  /**
   * Publishes the index when it reflects changes its file does not, at most every
   * `minIntervalMs` (0: now), so that the next process to open starts close to the present.
   */
  async flush(minIntervalMs = 0): Promise<IndexPointer | undefined> {
    if (!this.ann) return undefined;
    await this.follow();
    const published = this.ann.pointer?.seq;
    if (published !== undefined && published >= this.applied && this.ann.pointer) return undefined;
    if (minIntervalMs > 0 && Date.now() - this.lastSave < minIntervalMs) return undefined;
    const check = await this.catchUp(true);
    if (check !== 'ok' && check !== 'gap') {
      this.log(`vidsearch: the HNSW index in ${this.ann.dir} ${check} before publishing; rebuilding it from the database`);
      this.rebuilt = check;
      await this.rebuild();
      return this.ann.pointer;
    }
    if (check === 'gap') {
      await this.sync();
      return this.ann.pointer;
    }
    return this.publish();
  }

  search(vector: Float32Array, k: number): Hit[] {
    return this.ann ? this.ann.search(vector, k) : [];
  }

  /** The real check: after the latest changes, the index holds exactly the database's segment ids. */
  async inStepWithDatabase(): Promise<boolean> {
    if (!this.ann) return true;
    const outcome = await this.catchUp(true);
    if (outcome === 'gap') {
      await this.sync();
      return true;
    }
    return outcome === 'ok';
  }
}
