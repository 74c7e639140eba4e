// The CLI as a user runs it: a child process, exit codes, and stdout holding only JSON with --json.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, makeTextFile, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testModel } from './helpers';

let env: Record<string, string | undefined>;
let lib: string;

function vidsearch(args: string[], extraEnv: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), ...args], {
    env: { ...env, ...extraEnv } as NodeJS.ProcessEnv,
    encoding: 'utf8',
    cwd: tempDir('vidsearch-cwd-'),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  lib = tempDir('vidsearch-lib-');
  await makeColorVideo(path.join(lib, 'red.mp4'), [{ color: TEST_COLORS.red as RGB, seconds: 2 }]);
  await makeColorVideo(path.join(lib, 'blue.mp4'), [{ color: TEST_COLORS.blue as RGB, seconds: 2 }]);
  await makeTextFile(path.join(lib, 'broken.mkv'));
  const { PATH, HOME } = process.env;
  env = { PATH, HOME, VIDSEARCH_HOME: tempDir('vidsearch-home-'), VIDSEARCH_MODEL: await testModel(), VIDSEARCH_THREADS: '1' };
});

describe('vidsearch CLI', () => {
  test('index --json: stdout is only the report; exit 1 because a file failed', () => {
    const r = vidsearch(['index', lib, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(report).sort(), ['failed', 'indexed', 'removed', 'skipped']);
    assert.deepEqual(report.indexed.map((i: { path: string }) => path.basename(i.path)).sort(), ['blue.mp4', 'red.mp4']);
    assert.equal(report.indexed[0].segments, 1);
    assert.equal(report.indexed[0].frames, 2);
    assert.equal(path.basename(report.failed[0].path), 'broken.mkv');
    assert.match(report.failed[0].error, /not a video/);
  });

  test('re-running is a no-op with exit 0', () => {
    const r = vidsearch(['index', lib, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.indexed.length, 0);
    assert.equal(report.skipped.length, 3);
  });

  test('search --json prints the documented shape, best first', () => {
    const r = vidsearch(['search', 'red', '--json', '--k', '2']);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.query, 'red');
    assert.equal(typeof res.tookMs, 'number');
    assert.equal(res.results.length, 2);
    const top = res.results[0];
    assert.equal(path.basename(top.path), 'red.mp4');
    for (const key of ['videoId', 'path', 'score', 'start', 'end', 'bestTime', 'moments']) assert.ok(key in top, key);
    assert.deepEqual(Object.keys(top.moments[0]).sort(), ['bestTime', 'end', 'match', 'score', 'start']);
    assert.ok(res.results[0].score >= res.results[1].score);
  });

  test('search prints readable results; stats summarizes the index', () => {
    const s = vidsearch(['search', 'blue']);
    assert.equal(s.code, 0);
    assert.match(s.stdout, /^1\. .*blue\.mp4/m);
    const st = vidsearch(['stats', '--json']);
    assert.equal(st.code, 0);
    const stats = JSON.parse(st.stdout);
    assert.equal(stats.videos.indexed, 2);
    assert.equal(stats.videos.failed, 1);
    assert.equal(stats.segments, 2);
    assert.equal(stats.identity.model.name, 'vidsearch-test-clip');
    assert.equal(stats.index.vectors, 2);
    assert.equal(stats.index.inStep, true);
  });

  test('a file renamed while nothing watched is followed, not re-encoded', () => {
    fs.renameSync(path.join(lib, 'red.mp4'), path.join(lib, 'red-renamed.mp4'));
    const r = vidsearch(['index', lib, '--json']);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.indexed, []);
    assert.deepEqual(report.removed, []);
    assert.ok(report.skipped.some((s: { path: string; reason: string }) => s.path.endsWith('red-renamed.mp4') && s.reason.includes('moved from')));
    const top = JSON.parse(vidsearch(['search', 'red', '--json']).stdout).results[0];
    assert.equal(path.basename(top.path), 'red-renamed.mp4');
  });

  test('a deleted file is removed on the next run', () => {
    fs.rmSync(path.join(lib, 'blue.mp4'));
    const r = vidsearch(['index', lib, '--json']);
    assert.deepEqual(JSON.parse(r.stdout).removed.map((x: { path: string }) => path.basename(x.path)), ['blue.mp4']);
  });

  test('usage errors exit 2 with a message; --help exits 0 on every command', () => {
    for (const args of [[], ['frobnicate'], ['index'], ['index', lib, '--bogus'], ['search'], ['search', 'x', '--k', '0'], ['search', 'x', '--k', 'abc']]) {
      const r = vidsearch(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stdout.length > 0 || r.stderr.startsWith('vidsearch: '), args.join(' '));
    }
    assert.equal(vidsearch(['index', lib], { VIDSEARCH_FPS: 'fast' }).code, 2);
    assert.match(vidsearch(['index', lib], { VIDSEARCH_FPS: 'fast' }).stderr, /fps \(VIDSEARCH_FPS\) must be a positive number/);
    for (const cmd of ['index', 'search', 'stats', 'models']) {
      const r = vidsearch([cmd, '--help']);
      assert.equal(r.code, 0, cmd);
      assert.match(r.stdout, /Usage/);
    }
  });

  test('a missing model exits 1 and says how to get one', () => {
    const r = vidsearch(['search', 'red'], { VIDSEARCH_MODEL: '/nowhere/model' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /model not found at \/nowhere\/model: run `vidsearch models pull`/);
  });
});

describe('the compiled CLI (bin/vidsearch.js)', () => {
  const bundle = path.join(REPO_ROOT, 'dist', 'cli.mjs');
  test('runs one bundle, made again when a source is newer; the sources run as they are on request', () => {
    assert.equal(vidsearch(['--help']).code, 0);
    const inputs: string[] = JSON.parse(fs.readFileSync(`${bundle}.inputs.json`, 'utf8'));
    assert.ok(inputs.some((f) => f.endsWith('cli.ts')), inputs.join(', '));
    // An edited source (here: only its time) makes the next command rebuild before it runs.
    const source = path.join(REPO_ROOT, inputs[inputs.length - 1]!);
    const { atime, mtime } = fs.statSync(source);
    const built = fs.statSync(bundle).mtimeMs;
    const later = new Date(built + 1);
    try {
      fs.utimesSync(source, later, later);
      assert.equal(vidsearch(['--help']).code, 0);
      assert.ok(fs.statSync(bundle).mtimeMs > built, 'the bundle was made again');
    } finally {
      fs.utimesSync(source, atime, mtime);
    }
    const r = vidsearch(['--help'], { VIDSEARCH_CLI_SOURCES: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /search a video library/);
  });
});
