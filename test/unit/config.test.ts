// Unit: the configuration (services/config.ts): flags > environment > defaults, and every bad value
// refused with the setting's name. Pure: no file, process or network.
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  DAEMON_DEFAULTS,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_SEGMENT_SECONDS,
  hfEndpoint,
  resolveConfig,
  resolveDaemonSettings,
  resolveServerConfig,
  toolPaths,
} from '../../indexer/services/config';

describe('resolveConfig', () => {
  test('defaults', () => {
    const cfg = resolveConfig({}, {});
    assert.equal(cfg.fps, 1);
    assert.equal(cfg.segmentSeconds, DEFAULT_SEGMENT_SECONDS);
    assert.equal(cfg.variant, 'fp32');
    assert.equal(cfg.pooling, 'mean');
    assert.equal(cfg.labelSet, 'kinetics400');
    assert.equal(cfg.rerank, true);
    assert.equal(cfg.autoPull, true);
    assert.equal(cfg.uploadBudgetMb, 2 * cfg.uploadMaxMb);
    assert.equal(cfg.uploadDir, path.resolve(os.tmpdir()));
    assert.deepEqual(cfg.libraryDirs, []);
    assert.equal(cfg.ffmpegPath, undefined);
    assert.equal(cfg.debug, false);
    assert.equal(cfg.cacheDir, path.join(cfg.home, 'cache'));
    assert.equal(cfg.databaseUrl, `file:${path.join(cfg.home, 'vidsearch.db')}`);
  });

  test('flags win over the environment, which wins over defaults; an empty value counts as not given', () => {
    const env = { VIDSEARCH_FPS: '2', VIDSEARCH_THREADS: '3', VIDSEARCH_RERANK: 'off', VIDSEARCH_UPLOAD_DIR: '/srv/up', VIDSEARCH_BATCH_SIZE: '' };
    assert.equal(resolveConfig({}, env).fps, 2);
    assert.equal(resolveConfig({ fps: 4 }, env).fps, 4);
    assert.equal(resolveConfig({ fps: '' }, env).fps, 2);
    assert.equal(resolveConfig({ threads: '5' }, env).threads, 5);
    assert.equal(resolveConfig({}, env).rerank, false);
    assert.equal(resolveConfig({ rerank: true }, env).rerank, true);
    assert.equal(resolveConfig({}, env).uploadDir, '/srv/up');
    assert.equal(resolveConfig({}, env).batchSize, 16);
  });

  test('the home directory moves what lives under it unless those are given too', () => {
    const cfg = resolveConfig({}, { VIDSEARCH_HOME: '/srv/lib' });
    assert.equal(cfg.cacheDir, '/srv/lib/cache');
    assert.equal(resolveConfig({}, { VIDSEARCH_HOME: '/srv/lib', VIDSEARCH_CACHE_DIR: '/c' }).cacheDir, '/c');
    assert.equal(resolveConfig({}, { VIDSEARCH_HOME: '/srv/lib', DATABASE_URL: 'file:/db/x.db' }).databaseUrl, 'file:/db/x.db');
  });

  test('the library folders: split by the path delimiter, blanks dropped', () => {
    assert.deepEqual(resolveConfig({}, { VIDSEARCH_LIBRARY: ` /a ${path.delimiter}${path.delimiter}/b` }).libraryDirs, ['/a', '/b']);
  });

  test('every bad value is refused with the name of its setting', () => {
    const bad: Array<[string, string]> = [
      ['VIDSEARCH_FPS', 'fast'],
      ['VIDSEARCH_FPS', '61'],
      ['VIDSEARCH_SEGMENT_SECONDS', '0'],
      ['VIDSEARCH_BATCH_SIZE', '1.5'],
      ['VIDSEARCH_THREADS', '-1'],
      ['VIDSEARCH_VARIANT', 'int4'],
      ['VIDSEARCH_POOLING', 'max'],
      ['VIDSEARCH_LABEL_SET', 'imagenet'],
      ['VIDSEARCH_RERANK', 'maybe'],
      ['VIDSEARCH_RERANK_TAU', '0'],
      ['VIDSEARCH_RERANK_K', 'many'],
      ['VIDSEARCH_THUMBNAIL_CACHE_MB', '-3'],
      ['VIDSEARCH_LABEL_CACHE_MB', '0'],
      ['VIDSEARCH_UPLOAD_MAX_MB', 'lots'],
      ['VIDSEARCH_UPLOAD_MAX_SECONDS', 'NaN'],
      ['VIDSEARCH_UPLOAD_BUDGET_MB', 'abc'],
      ['VIDSEARCH_AUTO_PULL', '2'],
      // postgresql:// and postgres:// are the PostgreSQL store now; other schemes are still refused
      ['DATABASE_URL', 'mysql://x'],
    ];
    for (const [name, value] of bad) {
      assert.throws(() => resolveConfig({}, { [name]: value }), (err: Error) => err.name === 'UsageError' && err.message.includes(name), `${name}=${value}`);
    }
  });
});

describe('resolveServerConfig', () => {
  test('loopback on the default port by default; credentials optional there', () => {
    assert.deepEqual(resolveServerConfig({}), { host: DEFAULT_HOST, loopback: true, port: DEFAULT_PORT, password: undefined, apiToken: undefined });
  });

  test('bad values are named', () => {
    for (const [env, name] of [
      [{ HOST: 'not a host!' }, 'HOST'],
      [{ PORT: '70000' }, 'PORT'],
      [{ PORT: 'eighty' }, 'PORT'],
      [{ VIDSEARCH_PASSWORD: 'short' }, 'VIDSEARCH_PASSWORD'],
      [{ VIDSEARCH_API_TOKEN: 'abc' }, 'VIDSEARCH_API_TOKEN'],
      [{ HOST: '0.0.0.0' }, 'VIDSEARCH_PASSWORD'],
    ] as Array<[Record<string, string>, string]>) {
      assert.throws(() => resolveServerConfig(env), (err: Error) => err.message.includes(name), JSON.stringify(env));
    }
  });

  test('beyond loopback with a credential; the token is trimmed', () => {
    const cfg = resolveServerConfig({ HOST: '0.0.0.0', VIDSEARCH_API_TOKEN: '  0123456789abcdef  ' });
    assert.equal(cfg.loopback, false);
    assert.equal(cfg.apiToken, '0123456789abcdef');
  });
});

describe('the other settings', () => {
  test('ffmpeg and ffprobe: flags, then FFMPEG_PATH / FFPROBE_PATH, else none', () => {
    assert.deepEqual(toolPaths({}), {});
    assert.deepEqual(toolPaths({ FFMPEG_PATH: '/x/ffmpeg', FFPROBE_PATH: '' }), { ffmpegPath: '/x/ffmpeg' });
    assert.deepEqual(toolPaths({ FFMPEG_PATH: '/x/ffmpeg' }, { ffmpegPath: '/y/ffmpeg' }), { ffmpegPath: '/y/ffmpeg' });
  });

  test('the download endpoint: http(s) only, trailing slashes dropped, VIDSEARCH_HF_ENDPOINT before HF_ENDPOINT', () => {
    assert.equal(hfEndpoint(undefined, {}), undefined);
    assert.equal(hfEndpoint(undefined, { HF_ENDPOINT: 'https://m.example/', VIDSEARCH_HF_ENDPOINT: 'http://v.example//' }), 'http://v.example');
    assert.equal(hfEndpoint('https://given.example', { HF_ENDPOINT: 'https://m.example' }), 'https://given.example');
    assert.throws(() => hfEndpoint(undefined, { HF_ENDPOINT: 'ftp://m.example' }), /HF_ENDPOINT/);
    assert.throws(() => hfEndpoint(undefined, { HF_ENDPOINT: 'not a url' }), /HF_ENDPOINT/);
  });

  test("the daemon's settings: defaults, validation, a concurrency under 1 taken as 1", () => {
    const s = resolveDaemonSettings({ dirs: ['lib'] });
    assert.deepEqual({ ...s, dirs: undefined }, { ...DAEMON_DEFAULTS, dirs: undefined });
    assert.deepEqual(s.dirs, [path.resolve('lib')]);
    assert.equal(resolveDaemonSettings({ dirs: [], concurrency: 0 }).concurrency, 1);
    assert.equal(resolveDaemonSettings({ dirs: [], stabilityMs: 0 }).stabilityMs, 0);
    assert.throws(() => resolveDaemonSettings({ dirs: [], stabilityMs: -1 }), /--stability-ms/);
    assert.throws(() => resolveDaemonSettings({ dirs: [], stabilityMs: 1.5 }), /--stability-ms/);
    assert.throws(() => resolveDaemonSettings({ dirs: [], maxAttempts: 0 }), /maxAttempts/);
  });
});
