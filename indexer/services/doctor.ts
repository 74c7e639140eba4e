// `vidsearch doctor`: checks a data directory for damage nothing else notices, and with `repair`
// rebuilds what can be rebuilt. The database is the truth, so repairs only ever rebuild caches from
// it (the HNSW file, SQLite's own indexes), drop files vidsearch made that nothing refers to, or
// send a video back to be re-indexed; a user's video files are never touched.
//
// Checks run on a plain better-sqlite3 connection, before any Store is opened: a damaged identity
// row or database page would stop Store.open before it could say anything useful.
// Over 300 lines: five checks (database, identity, vectors, index, files), each a short function on
// that one connection, run in order by runDoctor, which alone decides when a repair may run.
//
// Cost: a whole run took 2.6-2.9 s on a 1.65 GB database of 100,000 segments and 200,000 frames,
// of which PRAGMA integrity_check 1.9 s (quick_check 1.6 s); measured with the scratch script
// bench/_doctor.ts (page-cached, this 2-core machine). It grows with the database: a command to
// run by hand or from cron, not on every start.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DIGEST_SQL, IdDigest, SegmentIndex, VERIFIED_FILE, digestOfRow } from '../io/ann/ann';
import { databaseKind, sqlitePath, type Config } from './config';
import { runPgDoctor } from './doctor-postgres';
import { errorMessage } from '../core/errors';
import { acquireWriterLock, writerActive } from '../io/files/lock';
import type { StoreIdentity } from '../core/storage';
import { parseIdentity } from './identity';
import { Store } from './store';

export type CheckName = 'database' | 'identity' | 'vectors' | 'index' | 'files';

export interface DoctorProblem {
  check: CheckName;
  message: string;
  /** the damaged row, for database problems */
  table?: string;
  row?: number | string;
  /** the file, for file problems */
  file?: string;
  repaired: boolean;
  /** what to do when --repair cannot fix it */
  advice?: string;
}

export interface DoctorReport {
  home: string;
  database: string;
  /** true when nothing is wrong (after repairs, when repairing) */
  healthy: boolean;
  repair: boolean;
  checks: Array<{ name: CheckName; ok: boolean; detail: string }>;
  problems: DoctorProblem[];
}

/** Rows listed per table at most; more are counted. */
const MAX_ROWS = 100;
const VECTOR_TABLES = [
  { table: 'Segment', videoId: '"videoId"', where: '1' },
  { table: 'Frame', videoId: '"videoId"', where: '1' },
  { table: 'Video', videoId: '"id"', where: '"vector" IS NOT NULL' },
] as const;

export async function runDoctor(cfg: Pick<Config, 'home' | 'databaseUrl'> & Partial<Pick<Config, 'debug'>>, opts: { repair?: boolean } = {}): Promise<DoctorReport> {
  if (databaseKind(cfg.databaseUrl) === 'postgres') return runPgDoctor(cfg, opts);
  const file = sqlitePath(cfg.databaseUrl);
  const report: DoctorReport = { home: cfg.home, database: file, healthy: true, repair: !!opts.repair, checks: [], problems: [] };
  const check = (name: CheckName, problems: DoctorProblem[], detail: string) => {
    report.checks.push({ name, ok: problems.every((p) => p.repaired), detail });
    report.problems.push(...problems);
  };
  if (!fs.existsSync(file)) {
    check('database', [], 'no database yet (nothing indexed)');
    return report;
  }
  // Repairs write: they need the writer lock, so no indexing run changes rows underneath them.
  const lock = opts.repair ? acquireWriterLock(cfg.home, 'doctor --repair') : undefined;
  let identity: StoreIdentity | undefined;
  let indexProblem = false;
  try {
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: !opts.repair, fileMustExist: true });
    } catch (err) {
      check('database', [{ check: 'database', message: `cannot open ${file}: ${errorMessage(err)}`, repaired: false, advice: restoreAdvice(file) }], 'not opened');
      return finish(report);
    }
    try {
      const ic = integrity(db, !!opts.repair, file, !!cfg.debug);
      db = ic.db;
      check('database', ic.problems, `PRAGMA integrity_check${ic.rebuiltFrom ? `; rebuilt by copying its tables into a new file, the damaged one kept as ${path.basename(ic.rebuiltFrom)}` : ''}`);
      // On a damaged database any query may fail ("database disk image is malformed"): a check that
      // cannot run is a problem of its own, and the others still run.
      const guarded = (name: CheckName, fn: () => void) => {
        try {
          fn();
        } catch (err) {
          check(name, [{ check: name, message: `could not be checked: ${errorMessage(err)}`, repaired: false, advice: restoreAdvice(file) }], 'not checked');
        }
      };
      guarded('identity', () => {
        const id = identityCheck(db, !!opts.repair);
        identity = id.identity;
        check('identity', id.problems, identity ? `${identity.model.name} (${identity.model.variant}, ${identity.model.dim}-d, ${identity.pooling} pooling)` : 'none recorded');
      });
      guarded('vectors', () => {
        const vec = vectorCheck(db, identity?.model.dim ?? commonDim(db), !!opts.repair);
        check('vectors', vec.problems, vec.detail);
      });
      guarded('index', () => {
        if (!identity) return check('index', [], 'skipped (no valid identity)');
        const ix = indexCheck(db, cfg.home, identity.model.dim);
        indexProblem = ix.problems.length > 0;
        check('index', ix.problems, ix.detail);
      });
      guarded('files', () => {
        const of = orphanFiles(db, cfg.home, !!opts.repair);
        check('files', of.problems, of.detail);
      });
    } finally {
      db.close();
    }
  } finally {
    lock?.release();
  }
  if (opts.repair && identity && indexProblem) {
    // Opening a writer store runs its own index check (checksum, generation, digest) and rebuilds
    // from the database; then look again, so "repaired" is what a fresh check says.
    const store = await Store.open(cfg, { writer: true, log: () => {} });
    await store.close();
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const again = indexCheck(db, cfg.home, identity.model.dim);
      const c = report.checks.find((x) => x.name === 'index')!;
      c.ok = again.problems.length === 0;
      c.detail = again.detail;
      for (const p of report.problems) if (p.check === 'index') p.repaired = c.ok;
    } finally {
      db.close();
    }
  }
  return finish(report);
}

function finish(report: DoctorReport): DoctorReport {
  report.healthy = report.problems.every((p) => p.repaired);
  return report;
}

function restoreAdvice(file: string): string {
  return `restore ${path.basename(file)} from a backup, or move it aside and index the library again (\`vidsearch index <folder>\`): the video files themselves are untouched`;
}

/**
 * SQLite's own check of every page, index and constraint. Damage confined to index b-trees is
 * repairable, since indexes are derived from the tables: REINDEX when SQLite can free the old
 * pages, else a copy of every table into a new file with the indexes built afresh (copyTables),
 * which replaces the database only if it checks out; the damaged file is kept beside it. Damage
 * to table pages is not repairable here.
 */
function integrity(db: Database.Database, repair: boolean, file: string, debug: boolean): { db: Database.Database; problems: DoctorProblem[]; rebuiltFrom?: string } {
  const run = (conn: Database.Database): string[] => {
    try {
      return (conn.prepare('PRAGMA integrity_check(100)').raw().all() as [string][]).map((r) => r[0]).filter((m) => m !== 'ok');
    } catch (err) {
      return [errorMessage(err)];
    }
  };
  const found = run(db);
  if (found.length === 0) return { db, problems: [] };
  let repaired = false;
  let rebuiltFrom: string | undefined;
  if (repair) {
    try {
      db.exec('REINDEX');
      repaired = run(db).length === 0;
    } catch {
      repaired = false;
    }
    if (!repaired) {
      const tmp = `${file}.doctor-${process.pid}.tmp`;
      try {
        fs.rmSync(tmp, { force: true });
        copyTables(db, tmp);
        const fresh = new Database(tmp);
        const ok = run(fresh).length === 0;
        fresh.close();
        if (ok) {
          db.close();
          rebuiltFrom = `${file}.damaged-${Date.now()}`;
          fs.renameSync(file, rebuiltFrom);
          for (const ext of ['-wal', '-shm']) fs.rmSync(file + ext, { force: true });
          fs.renameSync(tmp, file);
          db = new Database(file);
          db.pragma('journal_mode = WAL');
          repaired = true;
        }
      } catch (e) {
        if (debug) console.error(e);
        repaired = false;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    }
  }
  const advice = repaired ? undefined : repair ? restoreAdvice(file) : 'run `vidsearch doctor --repair` (damaged indexes of the database are rebuilt)';
  return { db, rebuiltFrom, problems: found.map((m) => ({ check: 'database' as const, message: `PRAGMA integrity_check: ${m}`, repaired, advice })) };
}

/**
 * Every table of `db` into a new database file, then the indexes, built from the copied rows.
 * Not VACUUM INTO: its transfer optimization copies index b-trees page by page, damaged ones
 * included. sqlite_sequence is copied too: AUTOINCREMENT must never hand out a segment id again.
 */
function copyTables(db: Database.Database, target: string): void {
  const objects = db.prepare(`SELECT "type", "name", "sql" FROM "main"."sqlite_master" WHERE "sql" IS NOT NULL AND "name" NOT LIKE 'sqlite_%' ORDER BY "type" = 'table' DESC, "rowid"`).all() as Array<{ type: string; name: string; sql: string }>;
  // Created here: ATTACH inherits the main connection's flags, opened without "create".
  new Database(target).close();
  db.prepare('ATTACH ? AS "fresh"').run(target);
  try {
    db.transaction(() => {
      for (const o of objects.filter((x) => x.type === 'table')) {
        db.exec(o.sql.replace(/^CREATE TABLE\s+/i, 'CREATE TABLE "fresh".'));
        db.exec(`INSERT INTO "fresh"."${o.name}" SELECT * FROM "main"."${o.name}"`);
      }
      const seq = db.prepare(`SELECT count(*) AS n FROM "main"."sqlite_master" WHERE "name" = 'sqlite_sequence'`).get() as { n: number };
      if (seq.n) db.exec(`DELETE FROM "fresh"."sqlite_sequence"; INSERT INTO "fresh"."sqlite_sequence" SELECT * FROM "main"."sqlite_sequence"`);
      for (const o of objects.filter((x) => x.type !== 'table')) db.exec(o.sql.replace(/^(CREATE\s+(UNIQUE\s+)?(INDEX|TRIGGER|VIEW)\s+)/i, '$1"fresh".'));
    })();
  } finally {
    db.exec('DETACH "fresh"');
  }
}

function identityCheck(db: Database.Database, repair: boolean): { identity?: StoreIdentity; problems: DoctorProblem[] } {
  let value: string | undefined;
  try {
    value = (db.prepare(`SELECT "value" FROM "Setting" WHERE "key" = 'identity'`).raw().get() as [string] | undefined)?.[0];
  } catch (err) {
    return { problems: [{ check: 'identity', message: `cannot read the identity row: ${errorMessage(err)}`, table: 'Setting', row: 'identity', repaired: false }] };
  }
  if (value === undefined) return { problems: [] };
  try {
    return { identity: parseIdentity(value), problems: [] };
  } catch (err) {
    // Which model made the stored vectors cannot be guessed (two models may share a dimension),
    // so a damaged identity is only dropped when there are no vectors it could be mixed with.
    const vectors = (db.prepare('SELECT (SELECT count(*) FROM "Segment") + (SELECT count(*) FROM "Frame")').raw().get() as [number])[0];
    let repaired = false;
    if (repair && vectors === 0) {
      db.prepare(`DELETE FROM "Setting" WHERE "key" = 'identity'`).run();
      repaired = true;
    }
    return {
      problems: [
        {
          check: 'identity',
          message: errorMessage(err),
          table: 'Setting',
          row: 'identity',
          repaired,
          advice: repaired ? undefined : 'the model that made the stored vectors is unknown: re-index with the current model, `vidsearch index --reindex <folder>`',
        },
      ],
    };
  }
}

/** The most common vector length, when the identity cannot say. */
function commonDim(db: Database.Database): number | undefined {
  const row = db.prepare('SELECT length("vector") AS n FROM "Segment" GROUP BY n ORDER BY count(*) DESC LIMIT 1').raw().get() as [number] | undefined;
  return row && row[0] % 4 === 0 ? row[0] / 4 : undefined;
}

/**
 * Every vector blob has dim × 4 bytes. One pass per table over the rows: 353 ms for 200,000
 * frame rows of 2 KB (scratch script bench/_doctor.ts, page-cached, this 2-core machine), so
 * about 1.8 s a million frames. With `repair`, each video
 * with a damaged row loses its vectors and goes back to pending: the next `vidsearch index` of
 * its folder re-indexes it from the file.
 */
function vectorCheck(db: Database.Database, dim: number | undefined, repair: boolean): { problems: DoctorProblem[]; detail: string } {
  if (dim === undefined) return { problems: [], detail: 'no vectors' };
  const bytes = dim * 4;
  const problems: DoctorProblem[] = [];
  const videos = new Set<number>();
  for (const t of VECTOR_TABLES) {
    const bad = db
      .prepare(`SELECT "id", ${t.videoId}, typeof("vector"), length("vector") FROM "${t.table}" WHERE ${t.where} AND (typeof("vector") != 'blob' OR length("vector") != ?)`)
      .raw()
      .all(bytes) as Array<[number, number, string, number]>;
    for (const [id, videoId, type, n] of bad) {
      videos.add(videoId);
      if (problems.filter((p) => p.table === t.table).length < MAX_ROWS) {
        problems.push({ check: 'vectors', message: `${t.table} ${id} (video ${videoId}): vector is ${type === 'blob' ? `${n} bytes` : `a ${type}`}, expected ${bytes} bytes (${dim} float32)`, table: t.table, row: id, repaired: false });
      }
    }
    const more = bad.length - Math.min(bad.length, MAX_ROWS);
    if (more > 0) problems.push({ check: 'vectors', message: `${t.table}: ${more} more damaged vectors`, table: t.table, repaired: false });
  }
  if (repair && videos.size) {
    db.transaction(() => {
      for (const id of videos) {
        for (const table of ['Tag', 'Frame', 'Segment']) db.prepare(`DELETE FROM "${table}" WHERE "videoId" = ?`).run(id);
        db.prepare(
          `UPDATE "Video" SET "status" = 'pending', "vector" = NULL, "frameCount" = 0, "segmentCount" = 0, "indexedAt" = NULL, "error" = 'damaged vectors removed by vidsearch doctor --repair: re-indexed on the next vidsearch index', "updatedAt" = ? WHERE "id" = ?`,
        ).run(Date.now(), id);
      }
      db.exec(`INSERT INTO "Setting" ("key", "value") VALUES ('generation', '1') ON CONFLICT("key") DO UPDATE SET "value" = CAST("value" AS INTEGER) + 1`);
    })();
    for (const p of problems) p.repaired = true;
  }
  for (const p of problems) if (!p.repaired) p.advice = 'run `vidsearch doctor --repair`: the videos go back to pending and the next `vidsearch index <folder>` re-indexes them';
  const counts = VECTOR_TABLES.map((t) => `${(db.prepare(`SELECT count(*) FROM "${t.table}" WHERE ${t.where}`).raw().get() as [number])[0]} ${t.table.toLowerCase()}`);
  return { problems, detail: `${counts.join(', ')} vectors of ${bytes} bytes${videos.size ? `; ${videos.size} videos with damaged rows${repair ? ' set to pending' : ''}` : ''}` };
}

/**
 * The published HNSW file: its checksum, and that it holds exactly the database's segment ids once
 * the changes logged after it are counted in (the ids it holds, plus those added, minus those
 * removed since the change it reflects), all read in one snapshot: writers may run meanwhile.
 */
function indexCheck(db: Database.Database, home: string, dim: number): { problems: DoctorProblem[]; detail: string } {
  const ann = new SegmentIndex(home, dim);
  const problem = (message: string): DoctorProblem => ({ check: 'index', message, file: ann.dir, repaired: false, advice: 'run `vidsearch doctor --repair` (or any search) to rebuild it from the database' });
  // The full checksum, whatever the file's stamp says: doctor is where damage below the file system is found.
  const loaded = ann.load(true);
  const snap = db.transaction(() => {
    const digest = digestOfRow(db.prepare(DIGEST_SQL).raw().get() as unknown[]);
    const pruned = Number((db.prepare(`SELECT "value" FROM "Setting" WHERE "key" = 'changesPrunedThrough'`).raw().get() as [string] | undefined)?.[0] ?? 0);
    const since = ann.pointer?.seq ?? 0;
    const changes = loaded ? (db.prepare('SELECT "segmentId", "op" FROM "SegmentChange" WHERE "seq" > ? ORDER BY "seq"').raw().all(since) as Array<[number, number]>) : [];
    return { digest, pruned, changes };
  })();
  const segments = Number(snap.digest.split(':')[0]);
  if (!loaded) {
    if (ann.loadError === 'missing' && segments === 0) return { problems: [], detail: 'no index file yet (no segments)' };
    return { problems: [problem(`the HNSW index ${ann.loadError === 'missing' ? 'is missing' : ann.loadError}`)], detail: 'not loaded' };
  }
  const p = ann.pointer!;
  if (p.seq === undefined) return { problems: [problem('the HNSW index was written before the change log (an older vidsearch): out of step')], detail: `${p.file}: checksum ok` };
  if (p.seq < snap.pruned) return { problems: [problem(`the HNSW index reflects change ${p.seq}, and the changes after it are no longer kept: out of step`)], detail: `${p.file}: checksum ok` };
  const ids = IdDigest.parse(ann.digest)!;
  for (const [id, op] of snap.changes) if (op !== 0) ids.add(id, op as 1 | -1);
  const after = ids.toString();
  const problems: DoctorProblem[] = [];
  const held = Number(after.split(':')[0]);
  if (after !== snap.digest) problems.push(problem(`the HNSW index (with the ${snap.changes.length} changes logged after it) holds ${held} segment vectors, the database ${segments}${held === segments ? ' (other ids)' : ''}: out of step`));
  return { problems, detail: `${p.file}: checksum ok, ${ann.size} vectors${snap.changes.length ? ` and ${snap.changes.length} changes logged since` : ''}${problems.length ? '' : ', in step with the database'}` };
}

/**
 * Files vidsearch made that nothing refers to: index files other than the published one (older
 * files, temp files of a crashed writer) and thumbnails of videos no longer in the database. Not
 * reported while a writer runs (its temp files are in use), unless this is the repair holding
 * the lock.
 */
function orphanFiles(db: Database.Database, home: string, repair: boolean): { problems: DoctorProblem[]; detail: string } {
  if (!repair && writerActive(home)) return { problems: [], detail: 'skipped: a writer is running' };
  const found: string[] = [];
  const indexDir = path.join(home, 'index');
  let published: string | undefined;
  try {
    published = JSON.parse(fs.readFileSync(path.join(indexDir, 'current.json'), 'utf8')).file;
  } catch {
    published = undefined;
  }
  // A file replaced in the last minute is kept for the processes that read its pointer (ann.ts).
  const recent = Date.now() - 60_000;
  for (const f of safeList(indexDir)) {
    if (f === 'current.json' || f === VERIFIED_FILE || f === published) continue;
    if ((fs.statSync(path.join(indexDir, f), { throwIfNoEntry: false })?.mtimeMs ?? 0) > recent) continue;
    found.push(path.join(indexDir, f));
  }
  const thumbs = path.join(home, 'thumbnails');
  const names = safeList(thumbs);
  if (names.length) {
    const ids = new Set((db.prepare('SELECT "id" FROM "Video"').raw().all() as [number][]).map((r) => r[0]));
    for (const f of names) {
      const m = /^(\d+)-\d+-\d+-\d+\.jpg$/.exec(f);
      if (m && !ids.has(Number(m[1]))) found.push(path.join(thumbs, f));
    }
  }
  const problems = found.map((file) => {
    let repaired = false;
    if (repair) {
      fs.rmSync(file, { force: true, recursive: true });
      repaired = true;
    }
    return { check: 'files' as const, message: `orphan file ${path.relative(home, file)}`, file, repaired, advice: repaired ? undefined : 'run `vidsearch doctor --repair` to delete it' };
  });
  return { problems, detail: `${found.length} orphan files${repair && found.length ? ' deleted' : ''}` };
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
