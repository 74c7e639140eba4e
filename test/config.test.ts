// The configuration's defaults and precedence: pure, no I/O beyond the working directory.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import test from 'node:test';
import { forgetProcessConfig, processConfig, resolveConfig, resolveServerConfig } from '../indexer/services/config';
import { REPO_ROOT, tempDir } from './helpers';

test('the default data directory is beside the installation, whatever the working directory', () => {
  const before = process.cwd();
  try {
    process.chdir(tempDir('vidsearch-cwd-'));
    const cfg = resolveConfig({}, {});
    assert.equal(cfg.home, path.join(REPO_ROOT, 'data'));
    assert.equal(cfg.databaseUrl, `file:${path.join(REPO_ROOT, 'data', 'vidsearch.db')}`);
    // An explicit relative path still means relative to where the user typed it.
    assert.equal(resolveConfig({}, { VIDSEARCH_HOME: 'lib-data' }).home, path.join(process.cwd(), 'lib-data'));
  } finally {
    process.chdir(before);
  }
});

test('flags win over the environment, which wins over defaults', () => {
  const env = { VIDSEARCH_HOME: '/srv/a', VIDSEARCH_FPS: '2' };
  assert.equal(resolveConfig({}, env).home, '/srv/a');
  assert.equal(resolveConfig({ home: '/srv/b' }, env).home, '/srv/b');
  assert.equal(resolveConfig({}, env).fps, 2);
  assert.equal(resolveConfig({ fps: '4' }, env).fps, 4);
  assert.throws(() => resolveConfig({}, { VIDSEARCH_FPS: 'fast' }), { name: 'UsageError', message: /VIDSEARCH_FPS/ });
});

test('a bad setting names itself, and the web server refuses to start with it (not a 500 per request)', { timeout: 60_000 }, async () => {
  assert.throws(() => resolveConfig({}, { VIDSEARCH_UPLOAD_BUDGET_MB: 'abc' }), { name: 'UsageError', message: /VIDSEARCH_UPLOAD_BUDGET_MB.*"abc"/ });
  assert.throws(() => resolveServerConfig({ PORT: 'eighty' }), { name: 'UsageError', message: /^PORT must be/ });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'server.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', VIDSEARCH_HOME: tempDir('vidsearch-home-'), PORT: '39217', VIDSEARCH_UPLOAD_BUDGET_MB: 'abc' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, 45_000);
    child.once('exit', (c) => (clearTimeout(timer), resolve(c)));
  });
  assert.equal(code, 2, out);
  assert.match(out, /^vidsearch: upload disk budget in MB \(VIDSEARCH_UPLOAD_BUDGET_MB\) must be a positive number, got "abc"$/m);
  assert.doesNotMatch(out, /listening on/);
});

test('the process keeps the configuration it resolved at start; forgetting it reads the environment again', () => {
  const saved = process.env.VIDSEARCH_FPS;
  try {
    process.env.VIDSEARCH_FPS = '2';
    forgetProcessConfig();
    assert.equal(processConfig().fps, 2);
    process.env.VIDSEARCH_FPS = '3';
    assert.equal(processConfig().fps, 2, 'read once, not per request');
    forgetProcessConfig();
    assert.equal(processConfig().fps, 3);
  } finally {
    if (saved === undefined) delete process.env.VIDSEARCH_FPS;
    else process.env.VIDSEARCH_FPS = saved;
    forgetProcessConfig();
  }
});

test('the CLI refuses a bad setting at start, naming it (exit 2)', () => {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'stats'], {
    env: { ...process.env, VIDSEARCH_HOME: tempDir('vidsearch-home-'), VIDSEARCH_UPLOAD_BUDGET_MB: 'abc' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /VIDSEARCH_UPLOAD_BUDGET_MB.*"abc"/);
});
