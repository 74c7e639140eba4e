// Unit: what a search may ask (core/search-request.ts), as the API and the CLI both parse it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ImageSearchFields, MAX_K, MAX_OFFSET, MAX_QUERY_CHARS, parseSearchRequest, splitLike } from '../../indexer/core/search-request';

const refused = (raw: Record<string, string | undefined>, message: RegExp) => assert.throws(() => parseSearchRequest(raw), (err: Error) => err.name === 'UsageError' && message.test(err.message), JSON.stringify(raw));

describe('the search request', () => {
  test('a text query with defaults; trimmed; an empty action is no filter', () => {
    assert.deepEqual(parseSearchRequest({ q: '  red car ' }), { q: 'red car', k: 10, offset: 0 });
    assert.deepEqual(parseSearchRequest({ q: 'x', k: '5', offset: '20', action: ' ' }), { q: 'x', k: 5, offset: 20, action: undefined });
    assert.deepEqual(parseSearchRequest({ q: 'x', action: 'surfing', k: undefined }), { q: 'x', k: 10, offset: 0, action: 'surfing' });
  });

  test('more like a moment: like and t together', () => {
    assert.deepEqual(parseSearchRequest({ like: '12', t: '4.5' }), { like: 12, t: 4.5, k: 10, offset: 0 });
    refused({ like: '12' }, /t is required with like/);
    refused({ t: '3' }, /q is required|t goes with like/);
    refused({ q: 'x', like: '1', t: '1' }, /not both/);
  });

  test('bounds and plain digits only', () => {
    refused({}, /q is required/);
    refused({ q: '   ' }, /q is empty/);
    refused({ q: 'x'.repeat(MAX_QUERY_CHARS + 1) }, /too long/);
    for (const k of ['0', String(MAX_K + 1), '1e3', '0x10', ' 5', '', '2.5']) refused({ q: 'x', k }, /^k must be an integer/);
    refused({ q: 'x', offset: String(MAX_OFFSET + 1) }, /^offset must be/);
    refused({ like: '1', t: '-1' }, /t must be a number of seconds/);
    refused({ q: 'x', action: 'y'.repeat(201) }, /action is too long/);
  });

  test('a picture search takes k and action only', () => {
    assert.deepEqual(parseSearchRequest({ k: '3' }, ImageSearchFields), { k: 3 });
    assert.throws(() => parseSearchRequest({ q: 'x' }, ImageSearchFields), { name: 'UsageError' });
  });

  test("the CLI's --like <videoId>@<seconds>", () => {
    assert.deepEqual(splitLike(' 12@4.5 '), { like: '12', t: '4.5' });
    assert.throws(() => splitLike('12'), /--like takes/);
    assert.throws(() => splitLike('1@2@3'), /--like takes/);
  });
});
