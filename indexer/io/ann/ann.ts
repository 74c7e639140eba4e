// The HNSW file I/O boundary (hnswlib-node). The file is a cache of the segment vectors in the
// database: written atomically under a new name, then published by rewriting a small pointer file,
// so readers never see half a file and pick up a new one without a restart. The pointer records
// the file's sha256 and a digest of the segment ids it holds, so a damaged file is never handed to
// the native library (it segfaults on bad link data) and an index missing a committed segment is
// noticed (see idDigest).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import hnswlib from 'hnswlib-node';
import type { SegmentHit } from '../../core/storage';
import { HNSW_EF_CONSTRUCTION, HNSW_M, searchEf } from '../../core/hnsw';

export interface IndexPointer {
  file: string;
  generation: number;
  dim: number;
  count: number;
  deleted: number;
  builtAt: string;
  /** sha256 (hex) of the file as written; a file that does not match is never loaded */
  sha256?: string;
  /** idDigest() of the live segment ids in the file */
  digest?: string;
  /** the change-log sequence number the file reflects: a reader applies the changes after it */
  seq?: number;
}

/**
 * An order-independent digest of a set of segment ids: "count:Σid:Σid² (both mod 2^31-1)". It
 * changes when any id is missing or extra (count), and a different set with the same count would
 * have to match two independent sums: never by accident. The database computes the same numbers
 * in one query over the Segment primary key (DIGEST_SQL), so "in step" is a real comparison of
 * what the index holds with what the database holds, whoever wrote the rows.
 */
const P = 2147483647;
export const DIGEST_SQL = `SELECT count(*), coalesce(sum("id" % ${P}), 0) % ${P}, coalesce(sum((("id" % ${P}) * ("id" % ${P})) % ${P}), 0) % ${P} FROM "Segment"`;

/** (a * b) mod P for 0 <= a, b < P without leaving exact double arithmetic (a*b can reach 2^62). */
function mulmod(a: number, b: number): number {
  const hi = Math.floor(b / 65536);
  const lo = b % 65536;
  return (((a * hi) % P) * 65536 + a * lo) % P;
}

export class IdDigest {
  count = 0;
  sum = 0;
  sq = 0;
  add(id: number, sign: 1 | -1 = 1): void {
    const a = id % P;
    this.count += sign;
    this.sum = (this.sum + sign * a + P) % P;
    this.sq = (this.sq + sign * mulmod(a, a) + P) % P;
  }
  toString(): string {
    return `${this.count}:${this.sum}:${this.sq}`;
  }
  static parse(s: string | undefined): IdDigest | undefined {
    const m = /^(\d+):(\d+):(\d+)$/.exec(s ?? '');
    if (!m) return undefined;
    return Object.assign(new IdDigest(), { count: Number(m[1]), sum: Number(m[2]), sq: Number(m[3]) });
  }
}

/** DIGEST_SQL's row as a digest string. */
export function digestOfRow(row: unknown[]): string {
  return `${Number(row[0])}:${Number(row[1])}:${Number(row[2])}`;
}

/**
 * sha256 of a file, read in 4 MiB chunks. Cost at 100,000 512-d vectors (a real 219.6 MB file,
 * page-cached, this 2-core machine; scratch script bench/_load.ts): 166-175 ms, next to 149-168 ms
 * for hnswlib's readIndexSync of the same file, so verifying about doubles a load. Paid by the
 * writer of each published file and by a reader only for a file whose stamp it finds unverified
 * (SegmentIndex.verifiedAt; doctor always), never per search. Other
 * hashes in node:crypto were no faster (bench/_hash.ts, same size, including the read: sha256
 * 362-399 ms, sha1 287-385, md5 445-514, blake2b512 397-526, sha512-256 495-585): OpenSSL's
 * sha256 runs on the CPU's SHA extensions, so nothing weaker buys time.
 */
export function fileSha256(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const got = fs.readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      h.update(buf.subarray(0, got));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * A file's identity on disk: a write to it (which moves mtime and ctime), a copy or a rename over
 * it (another inode), a truncation (size) all change it, and ctime cannot be set back from user
 * space (utimes sets it to now). Nanoseconds, read as bigints, so two writes in one millisecond differ.
 */
function fileStamp(file: string): string {
  const st = fs.statSync(file, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** Beside the index files: the record of the last verified one (see SegmentIndex.verifiedAt); never an orphan. */
export const VERIFIED_FILE = 'verified.json';

/** The record of the last file whose checksum was verified (by its writer or a reader), and its stamp then. */
interface Verified {
  file: string;
  sha256: string;
  stamp: string;
}

/** one search result: a segment id and its cosine (the type every vector search returns) */
export type Hit = SegmentHit;

// Search breadth follows the index's size: the rule and its measurements are core/hnsw.ts's.
export { MIN_EF } from '../../core/hnsw';

/** How long a replaced index file stays, for a process that read its pointer just before. */
const KEEP_OLD_FILES_MS = 60_000;

export class SegmentIndex {
  readonly dir: string;
  private index: hnswlib.HierarchicalNSW | undefined;
  private pointerStamp = '';
  pointer: IndexPointer | undefined;
  /** labels marked deleted since the last full build */
  deleted = 0;
  /** the live ids, as idDigest */
  ids = new IdDigest();
  /** why the last load() failed ('missing' when there is no published file yet) */
  loadError: string | undefined;

  constructor(home: string, readonly dim: number) {
    this.dir = path.join(home, 'index');
  }

  get pointerFile(): string {
    return path.join(this.dir, 'current.json');
  }

  private get verifiedFile(): string {
    return path.join(this.dir, VERIFIED_FILE);
  }

  /**
   * Whether `file` still holds the bytes whose sha256 `sha256` was checked: it was verified at
   * this very stamp. Hashing costs about as much as loading (see fileSha256): 25 ms of a one-query
   * CLI search at 10,000 segments, 170 ms at 100,000 (npm run bench -- --only=cli), for a file
   * that vidsearch never rewrites in place. What the stamp cannot see is damage below the file
   * system (a bad block under an unchanged inode): `vidsearch doctor` always hashes.
   */
  private verifiedAt(file: string, sha256: string, stamp: string): boolean {
    try {
      const v = JSON.parse(fs.readFileSync(this.verifiedFile, 'utf8')) as Verified;
      return v.file === path.basename(file) && v.sha256 === sha256 && v.stamp === stamp;
    } catch {
      return false;
    }
  }

  private recordVerified(file: string, sha256: string, stamp: string): void {
    const tmp = `${this.verifiedFile}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify({ file: path.basename(file), sha256, stamp } satisfies Verified));
      fs.renameSync(tmp, this.verifiedFile);
    } catch {
      // Only a shortcut (a read-only data directory): the next load hashes the file again.
      fs.rmSync(tmp, { force: true });
    }
  }

  /** idDigest of the live ids, to compare with the database's (DIGEST_SQL) */
  get digest(): string {
    return this.ids.toString();
  }

  /** Live (not deleted) vectors. */
  get size(): number {
    return this.index ? this.index.getCurrentCount() - this.deleted : 0;
  }

  private stamp(): string {
    try {
      const st = fs.statSync(this.pointerFile);
      return `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      return '';
    }
  }

  /**
   * Loads the published file after checking it against the pointer's sha256 (skipped when the
   * file's stamp is the one it had when last verified, unless `fullCheck`). Returns false when it
   * is missing, unreadable, damaged, or of another size; loadError says why.
   */
  load(fullCheck = false): boolean {
    const stamp = this.stamp();
    // Whatever the outcome, this pointer has been looked at: a reader that could not load it
    // (and rebuilt in memory) tries again only when a new file is published, not on every search.
    this.pointerStamp = stamp;
    this.loadError = undefined;
    let pointer: IndexPointer;
    try {
      pointer = JSON.parse(fs.readFileSync(this.pointerFile, 'utf8'));
    } catch (err) {
      this.loadError = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'has an unreadable pointer file (current.json)';
      return false;
    }
    if (pointer.dim !== this.dim) return this.fail(`was built for ${pointer.dim}-d vectors, not ${this.dim}-d`);
    const digest = IdDigest.parse(pointer.digest);
    if (!pointer.sha256 || !digest) return this.fail('has no checksum (written by an older version)');
    const file = path.join(this.dir, pointer.file);
    try {
      const stamp = fileStamp(file);
      if (fullCheck || !this.verifiedAt(file, pointer.sha256, stamp)) {
        if (fileSha256(file) !== pointer.sha256) return this.fail(`${pointer.file} does not match its checksum (damaged)`);
        // Stamped before hashing: a write during the hash changes the stamp, so it is not trusted later.
        this.recordVerified(file, pointer.sha256, stamp);
      }
    } catch {
      return this.fail(`${pointer.file} is missing or unreadable`);
    }
    const index = new hnswlib.HierarchicalNSW('ip', this.dim);
    try {
      index.readIndexSync(file, true);
      if (index.getCurrentCount() !== pointer.count || pointer.count - pointer.deleted !== digest.count) return this.fail(`${pointer.file} holds another number of vectors than its pointer says`);
    } catch {
      return this.fail(`${pointer.file} cannot be read`);
    }
    this.index = index;
    this.pointer = pointer;
    this.deleted = pointer.deleted;
    this.ids = digest;
    return true;
  }

  private fail(reason: string): false {
    this.loadError = reason;
    return false;
  }

  /** Reloads when another process has published a new file since the last load. */
  changedOnDisk(): boolean {
    return this.stamp() !== this.pointerStamp;
  }

  reset(capacity = 1024): void {
    this.index = new hnswlib.HierarchicalNSW('ip', this.dim);
    this.index.initIndex({ maxElements: Math.max(16, capacity), m: HNSW_M, efConstruction: HNSW_EF_CONSTRUCTION, randomSeed: 100, allowReplaceDeleted: true });
    this.deleted = 0;
    this.ids = new IdDigest();
    this.pointer = undefined;
  }

  add(id: number, vector: Float32Array): void {
    if (!this.index) this.reset();
    const index = this.index!;
    if (index.getCurrentCount() >= index.getMaxElements()) index.resizeIndex(Math.ceil(index.getMaxElements() * 1.5) + 16);
    index.addPoint(Array.from(vector), id);
    this.ids.add(id);
  }

  remove(id: number): void {
    if (!this.index) return;
    try {
      this.index.markDelete(id);
      this.deleted++;
      this.ids.add(id, -1);
    } catch {
      // not in this index (never added, or already deleted): nothing to do
    }
  }

  search(vector: Float32Array, k: number): Hit[] {
    const live = this.size;
    if (!this.index || live <= 0 || k <= 0) return [];
    const n = Math.min(k, live);
    this.index.setEf(searchEf(live, n));
    const { neighbors, distances } = this.index.searchKnn(Array.from(vector), n);
    // 'ip' distance is 1 - inner product; vectors are unit length, so this is the cosine.
    return neighbors.map((id, i) => ({ id, score: 1 - distances[i] }));
  }

  /** A vector rewritten in place (a re-pool): same id, new vector. */
  update(id: number, vector: Float32Array): void {
    if (!this.index) return;
    try {
      this.index.addPoint(Array.from(vector), id);
    } catch {
      // not in this index: the next digest check says so
    }
  }

  /**
   * Writes the index under a fresh name, then publishes it. Any process may publish (each file
   * is complete and says which change it reflects), so files another process may be about to load
   * stay a while: only files older than a minute are removed.
   */
  save(generation: number, seq?: number): IndexPointer {
    if (!this.index) this.reset();
    fs.mkdirSync(this.dir, { recursive: true });
    // Unique across processes: two that publish in the same millisecond must not share a temp file.
    const name = `segments-${generation}-${Date.now()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}.hnsw`;
    const tmp = path.join(this.dir, `${name}.tmp`);
    this.index!.writeIndexSync(tmp);
    // Hashed from the written file (not from memory): what the checksum vouches for is the bytes
    // a reader will read.
    const sha256 = fileSha256(tmp);
    fs.renameSync(tmp, path.join(this.dir, name));
    // Stamped after the rename, which moves ctime: the stamp a reader will see.
    this.recordVerified(path.join(this.dir, name), sha256, fileStamp(path.join(this.dir, name)));
    const pointer: IndexPointer = {
      file: name,
      generation,
      dim: this.dim,
      count: this.index!.getCurrentCount(),
      deleted: this.deleted,
      builtAt: new Date().toISOString(),
      sha256,
      digest: this.ids.toString(),
      seq,
    };
    const ptrTmp = `${this.pointerFile}.${process.pid}.tmp`;
    fs.writeFileSync(ptrTmp, JSON.stringify(pointer));
    fs.renameSync(ptrTmp, this.pointerFile);
    this.pointer = pointer;
    this.pointerStamp = this.stamp();
    const old = Date.now() - KEEP_OLD_FILES_MS;
    for (const f of fs.readdirSync(this.dir)) {
      // A reader loads a whole file into memory, so removing one it read is safe; one published
      // (or being written) by another process just now is kept for its readers.
      if (f === name || f === 'current.json' || f === VERIFIED_FILE) continue;
      const st = fs.statSync(path.join(this.dir, f), { throwIfNoEntry: false });
      if (st && st.mtimeMs < old) fs.rmSync(path.join(this.dir, f), { force: true });
    }
    return pointer;
  }

  fileBytes(): number {
    if (!this.pointer) return 0;
    try {
      return fs.statSync(path.join(this.dir, this.pointer.file)).size;
    } catch {
      return 0;
    }
  }
}
