// Damage a user can meet, through the CLI as they would: a damaged HNSW file, rows changed behind
// the index's back (a lost write), a damaged database page, a garbage identity row, a vector of
// the wrong length. Each is detected, named, and repaired from the database. Real SQLite, HNSW,
// ffmpeg and the test model; the damage is done to the files directly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testModel } from './helpers';

const COLORS = ['red', 'green', 'blue', 'yellow', 'magenta', 'orange'] as const;
let lib: string;
let template: string;
let baseEnv: Record<string, string | undefined>;

function vidsearch(home: string, args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), ...args], {
    env: { ...baseEnv, VIDSEARCH_HOME: home } as Record<string, string> as NodeJS.ProcessEnv,
    encoding: 'utf8',
    cwd: tempDir('vidsearch-cwd-'),
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of an indexed data directory (six one-segment videos), for one test to damage. */
function indexedHome(): string {
  const home = tempDir('vidsearch-home-');
  fs.cpSync(template, home, { recursive: true });
  return home;
}

function sql(home: string, fn: (db: Database.Database) => void): void {
  const db = new Database(path.join(home, 'vidsearch.db'));
  try {
    fn(db);
  } finally {
    db.close();
  }
}

function hnswFile(home: string): string {
  const pointer = JSON.parse(fs.readFileSync(path.join(home, 'index', 'current.json'), 'utf8'));
  return path.join(home, 'index', pointer.file);
}

/** Runs `fn` with the change-log trigger `name` dropped: a write the log does not see. */
function unlogged(db: Database.Database, name: string, fn: () => unknown): void {
  const ddl = (db.prepare(`SELECT "sql" FROM "sqlite_master" WHERE "type" = 'trigger' AND "name" = ?`).pluck().get(name) as string);
  db.exec(`DROP TRIGGER "${name}"`);
  try {
    fn();
  } finally {
    db.exec(ddl);
  }
}

/** Overwrites bytes [from, to) of a file with a fixed pattern, as a bad disk block would. */
function damage(file: string, from: number, to: number): void {
  const size = fs.statSync(file).size;
  assert.ok(size >= to, `${file} has ${size} bytes`);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(to - from, 0xa5), 0, to - from, from);
  fs.closeSync(fd);
}

function topPath(home: string, query: string): { code: number | null; top?: string; paths: string[]; stderr: string; signal: NodeJS.Signals | null } {
  const r = vidsearch(home, ['search', query, '--json', '--k', '10']);
  if (r.code !== 0) return { code: r.code, paths: [], stderr: r.stderr, signal: r.signal };
  const paths = JSON.parse(r.stdout).results.map((x: { path: string }) => path.basename(x.path));
  return { code: r.code, top: paths[0], paths, stderr: r.stderr, signal: r.signal };
}

function doctor(home: string, ...flags: string[]) {
  const r = vidsearch(home, ['doctor', '--json', ...flags]);
  return { code: r.code, report: r.stdout ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
}

before(async () => {
  lib = tempDir('vidsearch-lib-');
  for (const c of COLORS) await makeColorVideo(path.join(lib, `${c}.mp4`), [{ color: TEST_COLORS[c] as RGB, seconds: 2 }]);
  const { PATH, HOME } = process.env;
  baseEnv = { PATH, HOME, VIDSEARCH_MODEL: await testModel(), VIDSEARCH_THREADS: '1' };
  template = tempDir('vidsearch-home-');
  const r = vidsearch(template, ['index', lib, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).indexed.length, COLORS.length);
});

describe('a damaged HNSW file', () => {
  test('search verifies the checksum, rebuilds from the database with a log line, and finds the right video', () => {
    const home = indexedHome();
    damage(hnswFile(home), 200, 1000);
    const d = doctor(home);
    assert.equal(d.code, 1, 'doctor reports the damaged file');
    assert.ok(d.report.problems.some((p: { check: string; message: string }) => p.check === 'index' && /checksum/.test(p.message)), JSON.stringify(d.report.problems));

    const s = topPath(home, 'red');
    assert.equal(s.code, 0, `search exit ${s.code} signal ${s.signal}: ${s.stderr}`);
    assert.equal(s.top, 'red.mp4');
    assert.match(s.stderr, /does not match its checksum.*rebuilding it from the database/);
    // The rebuilt file was published: the next search loads it without a word.
    const again = topPath(home, 'blue');
    assert.equal(again.top, 'blue.mp4');
    assert.doesNotMatch(again.stderr, /rebuilding/);

    // stats says so when it is the one that found the damage; `index` repairs it too.
    damage(hnswFile(home), 200, 1000);
    const st = vidsearch(home, ['stats', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const stats = JSON.parse(st.stdout);
    assert.match(stats.index.rebuilt, /checksum/);
    assert.equal(stats.index.inStep, true);
    assert.equal(stats.index.vectors, COLORS.length);
    damage(hnswFile(home), 200, 1000);
    const ix = vidsearch(home, ['index', lib, '--json']);
    assert.equal(ix.code, 0, ix.stderr);
    assert.match(ix.stderr, /checksum/);
    assert.equal(doctor(home).code, 0);
  });
});

describe('a verified HNSW file is not hashed again, a changed one is', () => {
  test('damage that keeps the size and puts the mtime back is still found by search and by doctor', () => {
    const home = indexedHome();
    assert.equal(topPath(home, 'red').top, 'red.mp4'); // verified and stamped (index/verified.json)
    const file = hnswFile(home);
    const verified = JSON.parse(fs.readFileSync(path.join(home, 'index', 'verified.json'), 'utf8'));
    assert.equal(verified.file, path.basename(file));
    const before = fs.statSync(file);
    damage(file, 200, 1000);
    fs.utimesSync(file, before.atime, before.mtime);
    assert.equal(fs.statSync(file).size, before.size);
    const s = topPath(home, 'red');
    assert.equal(s.code, 0, `search exit ${s.code} signal ${s.signal}: ${s.stderr}`);
    assert.equal(s.top, 'red.mp4');
    assert.match(s.stderr, /does not match its checksum.*rebuilding it from the database/);
    // The rebuilt file is published verified: the next search loads it without a word, and doctor,
    // which always hashes, finds it sound.
    assert.doesNotMatch(topPath(home, 'blue').stderr, /rebuilding/);
    assert.equal(doctor(home).code, 0);
  });
});

describe('rows changed behind the index (a lost write)', () => {
  test('segments the index never saw are detected at open and made searchable', () => {
    const home = indexedHome();
    // A write the change log did not see (its trigger dropped for the insert, as a foreign tool
    // or a bug could): committed rows, and an HNSW file and log without them.
    sql(home, (db) => unlogged(db, 'Segment_added', () => {
      const blue = db.prepare(`SELECT "id" FROM "Video" WHERE "path" LIKE '%/blue.mp4'`).get() as { id: number };
      const copy = db
        .prepare(
          `INSERT INTO "Video" ("path","size","mtimeMs","status","duration","width","height","fps","rotation","codec","frameCount","segmentCount","vector","indexedAt","updatedAt")
           SELECT replace("path", 'blue.mp4', 'lost-blue.mp4'),"size","mtimeMs","status","duration","width","height","fps","rotation","codec","frameCount","segmentCount","vector","indexedAt","updatedAt" FROM "Video" WHERE "id" = ?`,
        )
        .run(blue.id).lastInsertRowid;
      db.prepare(`INSERT INTO "Segment" ("videoId","idx","start","end","frameCount","vector","pack") SELECT ?,"idx","start","end","frameCount","vector","pack" FROM "Segment" WHERE "videoId" = ?`).run(copy, blue.id);
      db.prepare(`INSERT INTO "Frame" ("videoId","idx","segmentIdx","time","vector") SELECT ?,"idx","segmentIdx","time","vector" FROM "Frame" WHERE "videoId" = ?`).run(copy, blue.id);
    }));
    const d = doctor(home);
    assert.equal(d.code, 1);
    assert.ok(d.report.problems.some((p: { check: string; message: string }) => p.check === 'index' && /out of step/.test(p.message)), JSON.stringify(d.report.problems));

    const s = topPath(home, 'blue');
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(s.paths.slice(0, 2).sort(), ['blue.mp4', 'lost-blue.mp4']);
    assert.match(s.stderr, /out of step with the database: it holds 6 segment vectors, the database 7/);
    const st = JSON.parse(vidsearch(home, ['stats', '--json']).stdout);
    assert.equal(st.index.inStep, true);
    assert.equal(st.index.vectors, 7);
  });

  test('rows another writer commits are followed through the change log: no rebuild, doctor healthy', () => {
    const home = indexedHome();
    sql(home, (db) => db.prepare(`DELETE FROM "Segment" WHERE "videoId" = (SELECT "id" FROM "Video" WHERE "path" LIKE '%/red.mp4')`).run());
    const d = doctor(home);
    assert.equal(d.code, 0, JSON.stringify(d.report.problems));
    const s = topPath(home, 'red');
    assert.equal(s.code, 0, s.stderr);
    assert.notEqual(s.top, 'red.mp4', 'its segments are gone from search');
    assert.doesNotMatch(s.stderr, /rebuilding/);
  });

  test('segments deleted behind its back: doctor finds it, --repair rebuilds, stats tells the truth', () => {
    const home = indexedHome();
    sql(home, (db) => unlogged(db, 'Segment_removed', () => db.prepare(`DELETE FROM "Segment" WHERE "videoId" = (SELECT "id" FROM "Video" WHERE "path" LIKE '%/red.mp4')`).run()));
    assert.equal(doctor(home).code, 1);
    const r = doctor(home, '--repair');
    assert.equal(r.code, 0, JSON.stringify(r.report));
    assert.ok(r.report.problems.every((p: { repaired: boolean }) => p.repaired));
    const again = doctor(home);
    assert.equal(again.code, 0, JSON.stringify(again.report));
    const st = JSON.parse(vidsearch(home, ['stats', '--json']).stdout);
    assert.equal(st.index.vectors, COLORS.length - 1);
    assert.equal(st.index.inStep, true);
  });
});

describe('database damage', () => {
  test('a page of garbage in vidsearch.db: doctor reports it (exit 1); in an index b-tree, --repair rebuilds it', () => {
    const home = indexedHome();
    const file = path.join(home, 'vidsearch.db');
    let pageSize = 0;
    let root = 0;
    sql(home, (db) => {
      pageSize = db.pragma('page_size', { simple: true }) as number;
      root = (db.prepare(`SELECT "rootpage" FROM "sqlite_master" WHERE "name" = 'Frame_videoId_idx_key'`).get() as { rootpage: number }).rootpage;
    });
    assert.equal(doctor(home).code, 0, 'healthy before');
    damage(file, (root - 1) * pageSize, root * pageSize);
    const d = doctor(home);
    assert.equal(d.code, 1, JSON.stringify(d.report));
    assert.ok(d.report.problems.some((p: { check: string }) => p.check === 'database'), JSON.stringify(d.report.problems));
    const r = doctor(home, '--repair');
    assert.equal(r.code, 0, JSON.stringify(r.report));
    assert.equal(doctor(home).code, 0);
    assert.equal(topPath(home, 'green').top, 'green.mp4');
  });

  test('a page of garbage in a table: doctor reports it and says what to do', () => {
    const home = indexedHome();
    let pageSize = 0;
    let root = 0;
    sql(home, (db) => {
      pageSize = db.pragma('page_size', { simple: true }) as number;
      root = (db.prepare(`SELECT "rootpage" FROM "sqlite_master" WHERE "name" = 'Frame'`).get() as { rootpage: number }).rootpage;
    });
    damage(path.join(home, 'vidsearch.db'), (root - 1) * pageSize + 8, root * pageSize);
    const r = vidsearch(home, ['doctor']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /PROBLEM\s+database/);
    assert.match(r.stdout, /integrity_check/);
  });

  test('a garbage identity row: every command names the table and row and what to run; --reindex recovers', () => {
    const home = indexedHome();
    sql(home, (db) => db.prepare(`UPDATE "Setting" SET "value" = '{"model": garbage' WHERE "key" = 'identity'`).run());
    for (const args of [['search', 'red'], ['stats'], ['index', lib]]) {
      const r = vidsearch(home, args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /table Setting, key "identity"/, args.join(' '));
      assert.match(r.stderr, /vidsearch doctor/, args.join(' '));
      assert.match(r.stderr, /vidsearch index --reindex/, args.join(' '));
    }
    const d = doctor(home, '--repair');
    assert.equal(d.code, 1, 'cannot guess which model made the vectors');
    const p = d.report.problems.find((x: { check: string }) => x.check === 'identity');
    assert.equal(p.table, 'Setting');
    assert.equal(p.row, 'identity');
    assert.match(p.advice, /--reindex/);
    const re = vidsearch(home, ['index', '--reindex', lib, '--json']);
    assert.equal(re.code, 0, re.stderr);
    assert.equal(topPath(home, 'red').top, 'red.mp4');
    assert.equal(doctor(home).code, 0);
  });

  test('2-byte vectors: the error names the table and row and `doctor --repair`; repair sends the videos back to be re-indexed', () => {
    const home = indexedHome();
    let frameId = 0;
    let segmentId = 0;
    sql(home, (db) => {
      frameId = (db.prepare(`SELECT f."id" AS id FROM "Frame" f JOIN "Video" v ON v."id" = f."videoId" WHERE v."path" LIKE '%/red.mp4' LIMIT 1`).get() as { id: number }).id;
      segmentId = (db.prepare(`SELECT s."id" AS id FROM "Segment" s JOIN "Video" v ON v."id" = s."videoId" WHERE v."path" LIKE '%/blue.mp4' LIMIT 1`).get() as { id: number }).id;
      db.prepare(`UPDATE "Frame" SET "vector" = x'0000' WHERE "id" = ?`).run(frameId);
      db.prepare(`UPDATE "Segment" SET "vector" = x'0000' WHERE "id" = ?`).run(segmentId);
    });
    // Rebuilding the HNSW index reads every segment vector: the damaged one is named.
    fs.rmSync(path.join(home, 'index'), { recursive: true });
    const s = vidsearch(home, ['search', 'blue']);
    assert.equal(s.code, 1, s.stdout);
    assert.match(s.stderr, new RegExp(`row Segment ${segmentId} has a damaged vector: 2 bytes, expected 32`));
    assert.match(s.stderr, /vidsearch doctor --repair/);
    // Re-pooling reads every frame vector.
    const rp = vidsearch(home, ['index', '--repool']);
    assert.equal(rp.code, 1, rp.stdout);
    assert.match(rp.stderr, /row (Frame|Segment) \d+ has a damaged vector.*vidsearch doctor --repair/);

    const d = doctor(home);
    assert.equal(d.code, 1);
    const rows = d.report.problems.filter((p: { check: string }) => p.check === 'vectors').map((p: { table: string; row: number }) => `${p.table} ${p.row}`);
    assert.deepEqual(rows.sort(), [`Frame ${frameId}`, `Segment ${segmentId}`]);
    const r = doctor(home, '--repair');
    assert.equal(r.code, 0, JSON.stringify(r.report));
    assert.equal(doctor(home).code, 0);
    const st = JSON.parse(vidsearch(home, ['stats', '--json']).stdout);
    assert.equal(st.videos.pending, 2);
    // The files were not touched: the next index run re-indexes exactly those two.
    for (const c of COLORS) assert.ok(fs.existsSync(path.join(lib, `${c}.mp4`)));
    const ix = vidsearch(home, ['index', lib, '--json']);
    assert.equal(ix.code, 0, ix.stderr);
    assert.deepEqual(JSON.parse(ix.stdout).indexed.map((i: { path: string }) => path.basename(i.path)).sort(), ['blue.mp4', 'red.mp4']);
    assert.equal(topPath(home, 'red').top, 'red.mp4');
    assert.equal(topPath(home, 'blue').top, 'blue.mp4');
  });

  test('orphan files: old index files and thumbnails of deleted videos are reported and removed by --repair', () => {
    const home = indexedHome();
    const tmp = path.join(home, 'index', 'segments-1-1.hnsw.tmp');
    fs.writeFileSync(tmp, 'half written');
    // Left by a crash a while ago: a file written in the last minute may be another process's.
    fs.utimesSync(tmp, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    fs.mkdirSync(path.join(home, 'thumbnails'), { recursive: true });
    fs.writeFileSync(path.join(home, 'thumbnails', '9999-0-1-1.jpg'), 'jpeg');
    fs.writeFileSync(path.join(home, 'thumbnails', '1-0-1-1.jpg'), 'jpeg');
    const d = doctor(home);
    assert.equal(d.code, 1);
    assert.deepEqual(d.report.problems.map((p: { file: string }) => path.basename(p.file)).sort(), ['9999-0-1-1.jpg', 'segments-1-1.hnsw.tmp']);
    assert.equal(doctor(home, '--repair').code, 0);
    assert.ok(!fs.existsSync(path.join(home, 'thumbnails', '9999-0-1-1.jpg')));
    assert.ok(fs.existsSync(path.join(home, 'thumbnails', '1-0-1-1.jpg')), 'a live video keeps its thumbnail');
    assert.equal(doctor(home).code, 0);
  });
});
