// The PostgreSQL store from the command line, as a user tries it: `vidsearch postgres-dev` serves
// PGlite with pgvector; a SQLite library is copied into it with `vidsearch store copy` (verified by
// counts and a search comparison), searched and summarized there, and copied back into a new SQLite
// data directory with the same search results; a non-empty target is refused; the server stops on SIGINT.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testModel } from './helpers';

const COLOR_NAMES = ['red', 'green', 'blue'] as const;
let env: Record<string, string | undefined>;
let lib: string;
let sqliteHome: string;
let server: ChildProcess;
let url: string;
let serverErr = '';

function vidsearch(args: string[], extraEnv: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), ...args], { env: { ...env, ...extraEnv } as NodeJS.ProcessEnv, encoding: 'utf8', cwd: tempDir('vidsearch-cwd-') });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The top result's file name and score for each colour, from `vidsearch search --json`. */
function answers(extraEnv: Record<string, string | undefined>): Array<[string, number]> {
  return COLOR_NAMES.map((name) => {
    const r = vidsearch(['search', name, '--json', '--no-rerank'], extraEnv);
    assert.equal(r.code, 0, r.stderr);
    const top = JSON.parse(r.stdout).results[0];
    return [path.basename(top.path), top.score];
  });
}

before(async () => {
  lib = tempDir('vidsearch-lib-');
  for (const name of COLOR_NAMES) await makeColorVideo(path.join(lib, `${name}.mp4`), [{ color: TEST_COLORS[name] as RGB, seconds: 2 }]);
  const { PATH, HOME } = process.env;
  sqliteHome = tempDir('vidsearch-home-');
  env = { PATH, HOME, VIDSEARCH_HOME: sqliteHome, VIDSEARCH_MODEL: await testModel(), VIDSEARCH_THREADS: '1' };
  server = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'postgres-dev', '--port', '0'], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stderr!.on('data', (d) => (serverErr += d));
  url = await new Promise<string>((resolve, reject) => {
    let text = '';
    server.stdout!.on('data', (d) => {
      text += d;
      const m = /^DATABASE_URL=(\S+)$/m.exec(text);
      if (m) resolve(m[1]!);
    });
    server.once('exit', (code) => reject(new Error(`postgres-dev exited with ${code}`)));
  });
});

after(() => {
  if (server.exitCode === null) server.kill('SIGKILL');
});

describe('vidsearch with PostgreSQL', () => {
  test('store copy SQLite → PostgreSQL → SQLite keeps every row and the search results', () => {
    const indexed = vidsearch(['index', lib, '--json']);
    assert.equal(indexed.code, 0, indexed.stderr);
    const before = answers({});
    assert.deepEqual(before.map(([f]) => f), COLOR_NAMES.map((n) => `${n}.mp4`));

    const there = vidsearch(['store', 'copy', '--from', sqliteHome, '--to', url, '--json']);
    assert.equal(there.code, 0, there.stderr);
    const report = JSON.parse(there.stdout);
    assert.equal(report.verified, true);
    const rows = Object.fromEntries(report.tables.map((t: { table: string; from: number; to: number }) => [t.table, [t.from, t.to]]));
    assert.deepEqual(rows.Video, [3, 3]);
    assert.deepEqual(rows.Segment, [3, 3]);
    assert.deepEqual(rows.Frame, [6, 6]);
    assert.ok(report.search.length > 0 && report.search.every((s: { sameScores: boolean }) => s.sameScores));
    assert.match(there.stderr, /copy Frame 6\/6/, 'progress on stderr');

    const pg = { DATABASE_URL: url };
    const onPg = answers(pg);
    assert.deepEqual(onPg.map(([f]) => f), before.map(([f]) => f));
    for (const [i, [, s]] of onPg.entries()) assert.ok(Math.abs(s - before[i]![1]) < 1e-3);
    const stats = vidsearch(['stats', '--json'], pg);
    assert.equal(stats.code, 0, stats.stderr);
    const s = JSON.parse(stats.stdout);
    assert.deepEqual([s.videos.indexed, s.segments, s.frames, s.index.vectors, s.index.inStep, s.index.search], [3, 3, 6, 3, true, 'pgvector HNSW']);
    assert.ok(!stats.stdout.includes('postgres@') || !/:[^@/]+@/.test(s.database), 'no password printed');
    const text = vidsearch(['stats'], pg);
    assert.match(text.stdout, /^index +3 vectors, .*pgvector HNSW/m);

    const refused = vidsearch(['store', 'copy', '--from', sqliteHome, '--to', url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not empty/);

    const back = tempDir('vidsearch-home-');
    const home = vidsearch(['store', 'copy', '--from', url, '--to', back]);
    assert.equal(home.code, 0, home.stderr + home.stdout);
    assert.match(home.stdout, /^verified: the copy holds the same library$/m);
    assert.deepEqual(answers({ VIDSEARCH_HOME: back }), before);
  });

  test('postgres-dev says it is not for production, and stops cleanly on SIGINT', async () => {
    // 'close': after the exit and after its output is read (the tests above block the event loop in spawnSync).
    const code = await new Promise<number | null>((resolve) => {
      server.once('close', resolve);
      server.kill('SIGINT');
    });
    assert.equal(code, 0);
    assert.match(serverErr, /not for production/);
    assert.match(serverErr, /postgres-dev stopped/);
  });
});
