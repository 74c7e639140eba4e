// Faults outside any one video, through the CLI as a user meets them: a full disk, a folder that
// cannot be read, a broken or crashing ffmpeg, file names that are not UTF-8. Everything is real:
// a tmpfs that fills up, permissions enforced on a root process that gave up its override
// capabilities, executables that are not executable or die by a signal.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { resolveTools } from '../indexer/io/ffmpeg/media';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testModel } from './helpers';

const BIN = path.join(REPO_ROOT, 'bin', 'vidsearch.js');
const isRoot = process.getuid?.() === 0;
// Root reads anything whatever its mode; without these two capabilities it obeys permissions.
const WITHOUT_OVERRIDE = ['setpriv', '--bounding-set', '-dac_override,-dac_read_search'];

let baseEnv: Record<string, string | undefined>;

before(async () => {
  const { PATH, HOME } = process.env;
  baseEnv = { PATH, HOME, VIDSEARCH_MODEL: await testModel(), VIDSEARCH_THREADS: '1', VIDSEARCH_LABEL_SET: 'none' };
});

function vidsearch(args: string[], env: Record<string, string | undefined>, prefix: string[] = []) {
  const cmd = [...prefix, process.execPath, BIN, ...args];
  const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...baseEnv, ...env } as NodeJS.ProcessEnv, encoding: 'utf8', cwd: tempDir('vidsearch-cwd-'), timeout: 120_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const video = (file: string, color: string, seconds = 2) => makeColorVideo(file, [{ color: TEST_COLORS[color] as RGB, seconds }]);
const names = (list: Array<{ path: string }>) => list.map((x) => path.basename(x.path)).sort();

type LogLine = Record<string, unknown>;

/** `vidsearch watch` as a process: its JSON log lines as they come, and a way to stop it. */
function startWatch(dir: string, env: Record<string, string | undefined>, prefix: string[] = []) {
  const cmd = [...prefix, process.execPath, BIN, 'watch', dir, '--stability-ms', '200'];
  const proc = spawn(cmd[0], cmd.slice(1), { env: { ...baseEnv, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const lines = (): LogLine[] =>
    stderr.split('\n').flatMap((l) => {
      try {
        return [JSON.parse(l) as LogLine];
      } catch {
        return []; // not a log line
      }
    });
  return {
    lines,
    async waitFor(match: (l: LogLine) => boolean, what: string, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!lines().some(match)) {
        assert.ok(proc.exitCode === null && Date.now() < deadline, `watch: no ${what}; stderr:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(): Promise<void> {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exit;
    },
  };
}

/** `vidsearch watch` until it has reconciled and gone idle, then stopped: its log lines. */
async function watchOnce(dir: string, env: Record<string, string | undefined>, prefix: string[] = []): Promise<LogLine[]> {
  const w = startWatch(dir, env, prefix);
  try {
    await w.waitFor((l) => l.event === 'idle', 'idle');
  } finally {
    await w.stop();
  }
  return w.lines();
}

describe('faults that are no video file’s', () => {
  test('a full disk: says so and where, exits 1 with the report of what was saved, records nothing against a file', { skip: !isRoot && 'mounting a tmpfs needs root' }, async (t) => {
    const lib = tempDir('vidsearch-lib-');
    const first = tempDir('vidsearch-lib-');
    await video(path.join(first, 'first.mp4'), 'red');
    for (const c of ['green', 'blue', 'yellow', 'orange', 'magenta', 'white']) await video(path.join(lib, `${c}.mp4`), c);
    const mnt = tempDir('vidsearch-tmpfs-');
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], { encoding: 'utf8' });
    assert.equal(mount.status, 0, `mount: ${mount.stderr}`);
    t.after(() => {
      const u = spawnSync('umount', [mnt]);
      if (u.status !== 0) spawnSync('umount', ['-l', mnt]);
    });
    const env = { VIDSEARCH_HOME: path.join(mnt, 'home') };
    assert.equal(vidsearch(['index', first], env).code, 0);
    // Fill the file system up to 64 KiB: room for a video or two, not for six.
    const filler = path.join(mnt, 'filler');
    const { bavail, bsize } = fs.statfsSync(mnt);
    fs.writeFileSync(filler, Buffer.alloc(bavail * bsize - 64 * 1024));

    const r = vidsearch(['index', lib, '--json'], env);
    assert.equal(r.code, 1, `exit ${r.code} ${r.signal ?? ''}; stderr:\n${r.stderr}`);
    const m = /^vidsearch: the disk holding (\S+) is full: free some space there and run again; (\d+) files? saved before it$/m.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.ok(m[1].startsWith(mnt), m[1]);
    assert.doesNotMatch(r.stderr, /Transaction|\n\s+at /);
    const report = JSON.parse(r.stdout);
    const saved = Number(m[2]);
    assert.equal(report.indexed.length, saved);
    assert.deepEqual(report.failed, []);
    assert.ok(saved < 6, 'the disk filled up before the end');

    // Nothing half-written and nothing held against a file: with room again, the rest is indexed.
    fs.rmSync(filler);
    const stats = JSON.parse(vidsearch(['stats', '--json'], env).stdout);
    assert.equal(stats.videos.indexed, 1 + saved);
    assert.equal(stats.videos.failed, 0);
    assert.equal(stats.segments, 1 + saved);
    const again = vidsearch(['index', lib, '--json'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).indexed.length, 6 - saved);
    const top = JSON.parse(vidsearch(['search', 'white', '--json', '--k', '1'], env).stdout).results[0];
    assert.equal(path.basename(top.path), 'white.mp4');

    // The watch daemon takes a full disk as passing: it retries, and indexes the file once there is room.
    const w = startWatch(lib, env);
    t.after(() => w.stop());
    await w.waitFor((l) => l.event === 'idle', 'idle');
    const room = fs.statfsSync(mnt);
    fs.writeFileSync(filler, Buffer.alloc(room.bavail * room.bsize));
    const late = path.join(lib, 'purple.mp4');
    await video(late, 'purple');
    await w.waitFor((l) => l.event === 'retry' && l.path === late, 'retry of purple.mp4');
    const retry = w.lines().find((l) => l.event === 'retry' && l.path === late)!;
    assert.match(String(retry.reason), /^the disk holding .* is full/);
    fs.rmSync(filler);
    await w.waitFor((l) => l.event === 'indexed' && l.path === late, 'purple.mp4 indexed');
    assert.ok(!w.lines().some((l) => l.event === 'failed'), JSON.stringify(w.lines()));
    await w.stop(); // before the unmount
  });

  test('an unreadable folder is reported and its videos kept; only a file known to be gone is removed', { skip: !isRoot && 'drops root capabilities' }, async (t) => {
    const lib = tempDir('vidsearch-lib-');
    const sub = path.join(lib, 'sub');
    fs.mkdirSync(sub);
    await video(path.join(lib, 'red.mp4'), 'red');
    await video(path.join(sub, 'blue.mp4'), 'blue');
    const env = { VIDSEARCH_HOME: tempDir('vidsearch-home-') };
    assert.equal(vidsearch(['index', lib], env).code, 0);

    fs.chmodSync(sub, 0o000);
    t.after(() => fs.chmodSync(sub, 0o755));
    const r = vidsearch(['index', lib, '--json'], env, WITHOUT_OVERRIDE);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.removed, []);
    assert.deepEqual(report.failed.map((f: { path: string }) => f.path), [sub]);
    assert.match(report.failed[0].error, /cannot read the folder \(EACCES: permission denied\); its 1 indexed video stays in the index as it is/);
    const top = JSON.parse(vidsearch(['search', 'blue', '--json', '--k', '1'], env).stdout).results[0];
    assert.equal(path.basename(top.path), 'blue.mp4');

    // The watch daemon's reconcile: the same.
    const log = await watchOnce(lib, env, WITHOUT_OVERRIDE);
    assert.ok(log.some((l) => l.event === 'unreadable' && l.path === sub), JSON.stringify(log));
    assert.ok(!log.some((l) => l.event === 'removed'), JSON.stringify(log));
    assert.equal(JSON.parse(vidsearch(['stats', '--json'], env).stdout).videos.indexed, 2);

    // Readable again and the file really gone: now it is removed.
    fs.chmodSync(sub, 0o755);
    fs.rmSync(path.join(sub, 'blue.mp4'));
    const gone = vidsearch(['index', lib, '--json'], env, WITHOUT_OVERRIDE);
    assert.equal(gone.code, 0, gone.stderr);
    assert.deepEqual(names(JSON.parse(gone.stdout).removed), ['blue.mp4']);
  });

  test('a broken ffmpeg stops the run naming it and records nothing; one that crashes on a file fails that file only, unrecorded', async () => {
    const lib = tempDir('vidsearch-lib-');
    await video(path.join(lib, 'red.mp4'), 'red');
    const env = { VIDSEARCH_HOME: tempDir('vidsearch-home-') };
    const bin = tempDir('vidsearch-bin-');
    // ffmpeg probes and decodes (media.ts); ffprobe only offers a shortcut whose failure costs nothing.
    const notExecutable = path.join(bin, 'ffmpeg');
    fs.writeFileSync(notExecutable, '#!/bin/sh\nexit 0\n', { mode: 0o644 });

    const r = vidsearch(['index', lib, '--json'], { ...env, FFMPEG_PATH: notExecutable });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^vidsearch: ffmpeg not found: FFMPEG_PATH=${notExecutable} is not an executable file\\..*; 0 files saved before it$`, 'm'));
    assert.deepEqual(JSON.parse(r.stdout).failed, []);

    // A tool that dies by a signal on everything, -version included, is broken too.
    const dies = path.join(bin, 'ffmpeg-dies');
    fs.writeFileSync(dies, '#!/bin/sh\nkill -SEGV $$\n', { mode: 0o755 });
    const d = vidsearch(['index', lib, '--json'], { ...env, FFMPEG_PATH: dies });
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stderr, /^vidsearch: ffmpeg is broken: it was killed by SIGSEGV.*; 0 files saved before it$/m);

    // One that crashes on one file only: that file fails this run, the others are indexed.
    const crashy = path.join(lib, 'crash-me.mp4');
    await video(crashy, 'green');
    const wrapper = path.join(bin, 'ffmpeg-crashy');
    fs.writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *crash-me*) kill -SEGV $$ ;; esac\nexec '${resolveTools().ffmpeg}' "$@"\n`, { mode: 0o755 });
    const c = vidsearch(['index', lib, '--json'], { ...env, FFMPEG_PATH: wrapper });
    assert.equal(c.code, 1, c.stderr);
    const report = JSON.parse(c.stdout);
    assert.deepEqual(names(report.indexed), ['red.mp4']);
    assert.deepEqual(names(report.failed), ['crash-me.mp4']);
    assert.match(report.failed[0].error, /^ffmpeg \S+ crashed \(signal SIGSEGV\) on .*crash-me\.mp4: a bug in ffmpeg/);

    // Nothing was held against the file: with a working ffmpeg it is indexed, no --retry-failed needed.
    const ok = vidsearch(['index', lib, '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(names(JSON.parse(ok.stdout).indexed), ['crash-me.mp4']);
  });

  test('file names that are not UTF-8 are reported, escaped, by index and by watch', async () => {
    const lib = tempDir('vidsearch-lib-');
    await video(path.join(lib, 'red.mp4'), 'red');
    const raw = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
    // Latin-1 "café.mp4" and a Latin-1 folder name with a video inside.
    fs.copyFileSync(path.join(lib, 'red.mp4'), raw(lib, '/caf', [0xe9], '.mp4'));
    fs.mkdirSync(raw(lib, '/f', [0xf6], 'o'));
    fs.copyFileSync(path.join(lib, 'red.mp4'), raw(lib, '/f', [0xf6], 'o/clip.mp4'));
    const env = { VIDSEARCH_HOME: tempDir('vidsearch-home-') };

    const r = vidsearch(['index', lib, '--json'], env);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(names(report.indexed), ['red.mp4']);
    assert.deepEqual(report.failed.map((f: { path: string }) => f.path).sort(), [`${lib}/caf\\xe9.mp4`, `${lib}/f\\xf6o`]);
    for (const f of report.failed) assert.match(f.error, /name is not valid UTF-8/);
    const text = vidsearch(['index', lib], env);
    assert.match(text.stdout, /failed: .*caf\\xe9\.mp4: its name is not valid UTF-8/);

    // watch: the reconcile reports them, and so does a new one arriving while it watches.
    const w = startWatch(lib, env);
    try {
      await w.waitFor((l) => l.event === 'idle', 'idle');
      const bad = w.lines().filter((l) => l.event === 'bad-name').map((l) => l.path);
      assert.deepEqual(bad.sort(), [`${lib}/caf\\xe9.mp4`, `${lib}/f\\xf6o`]);
      fs.copyFileSync(path.join(lib, 'red.mp4'), raw(lib, '/cr', [0xe8], 'me.mp4'));
      await w.waitFor((l) => l.event === 'bad-name' && l.path === `${lib}/cr\\xe8me.mp4`, 'bad-name for cr\\xe8me.mp4');
    } finally {
      await w.stop();
    }
  });
});
