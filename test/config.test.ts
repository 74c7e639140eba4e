// The configuration's defaults and precedence: pure, no I/O beyond the working directory.
import assert from 'node:assert/strict';
import path from 'node:path';
import test from 'node:test';
import { resolveConfig } from '../indexer/services/config';
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
