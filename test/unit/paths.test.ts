// Unit: paths as the database holds them (core/paths.ts): the range below a folder, and
// VIDSEARCH_PATH_MAP, parsed by the configuration and applied both ways.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parsePathMap, pathRange, toLocalPath, toStoredPath } from '../../indexer/core/paths';
import { resolveConfig } from '../../indexer/services/config';

describe('pathRange', () => {
  test('whole path segments: /a/b holds /a/b/x, not /a/bc', () => {
    const [from, to] = pathRange('/a/b');
    const inside = (p: string) => p >= from && p < to;
    assert.ok(inside('/a/b/x.mp4'));
    assert.ok(inside('/a/b/c/d.mp4'));
    assert.ok(!inside('/a/bc/x.mp4'));
    assert.ok(!inside('/a/b'));
    assert.deepEqual(pathRange('/a/b/'), pathRange('/a/b'));
  });
});

describe('VIDSEARCH_PATH_MAP', () => {
  const map = parsePathMap('/mnt/nas=/data; /mnt/nas/archive=/archive , /srv/=/');

  test('a stored path is opened where this machine mounts it, and a found file is recorded by its stored path', () => {
    assert.equal(toLocalPath('/mnt/nas/a/b.mp4', map), '/data/a/b.mp4');
    assert.equal(toStoredPath('/data/a/b.mp4', map), '/mnt/nas/a/b.mp4');
    assert.equal(toLocalPath('/mnt/nas', map), '/data');
    assert.equal(toStoredPath('/data', map), '/mnt/nas');
  });

  test('the longest mapped folder wins, in any order; "/" maps too', () => {
    assert.equal(toLocalPath('/mnt/nas/archive/x.mp4', map), '/archive/x.mp4');
    assert.equal(toStoredPath('/archive/x.mp4', map), '/mnt/nas/archive/x.mp4');
    assert.equal(toLocalPath('/srv/v.mp4', map), '/v.mp4');
    assert.equal(toStoredPath('/elsewhere/v.mp4', parsePathMap('/srv=/')), '/srv/elsewhere/v.mp4');
  });

  test('whole path segments only, and paths outside every mapping are left alone', () => {
    assert.equal(toLocalPath('/mnt/nasty/x.mp4', map), '/mnt/nasty/x.mp4');
    assert.equal(toStoredPath('/database/x.mp4', parsePathMap('/mnt/nas=/data')), '/database/x.mp4');
    assert.equal(toLocalPath('/home/x.mp4', []), '/home/x.mp4');
  });

  test('round trip: local(stored(p)) = p for every file below a mapping', () => {
    for (const p of ['/data/a.mp4', '/data/x/y/z.mkv', '/archive/1.mp4']) assert.equal(toLocalPath(toStoredPath(p, map), map), p);
  });

  test('the configuration parses it once and refuses bad entries, naming the setting', () => {
    assert.deepEqual(resolveConfig({}, { VIDSEARCH_PATH_MAP: '/mnt/nas=/data' }).pathMap, [{ stored: '/mnt/nas', local: '/data' }]);
    assert.deepEqual(resolveConfig({}, {}).pathMap, []);
    for (const bad of ['/mnt/nas', 'mnt=/data', '/a=/b=/c', '/a=/b;/a=/c', '=/data']) {
      assert.throws(() => resolveConfig({}, { VIDSEARCH_PATH_MAP: bad }), (e: Error) => /VIDSEARCH_PATH_MAP/.test(e.message) && errorKindIsUsage(e), bad);
    }
  });
});

const errorKindIsUsage = (e: Error) => (e as { kind?: string }).kind === 'usage';
