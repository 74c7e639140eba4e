// Relevance, pages and confident tags (issue 11, items 6-8): the searcher, the API route and the CLI on a generated library of 26 videos (most of them
// dark clips no colour word describes). With the test model a nonsense query scores exactly 0
// against every frame, so nothing can stand out; "red" scores 1 on red.mp4 and about 0.33 on the
// dark clips, so it must.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEngine, type OpenEngine } from '../indexer/services/engine';
import type { SearchResponse } from '../indexer/services/search';
import { GET as search } from '../app/api/search/route';
import { REPO_ROOT } from './helpers';
import { LIBRARY_SIZE, makeResultsLibrary, NONSENSE, type ResultsLibrary } from './results-library';

// The pure rules (relevance, confident tags) are in test/unit/relevance.test.ts.

describe('search on a library of more than a page', () => {
  let lib: ResultsLibrary;
  let engine: OpenEngine;
  const name = (p: string) => path.basename(p);

  before(async () => {
    lib = await makeResultsLibrary();
    engine = await openEngine(lib.cfg);
    process.env.VIDSEARCH_HOME = lib.cfg.home;
    process.env.VIDSEARCH_MODEL = lib.cfg.model;
    process.env.VIDSEARCH_THREADS = '1';
  });
  after(async () => {
    await engine?.close();
    const g = globalThis as typeof globalThis & { __vidsearchEngine?: Promise<OpenEngine> };
    await (await g.__vidsearchEngine?.catch(() => undefined))?.close();
  });

  test('a nonsense query is no close match, and still lists the closest videos', async () => {
    const res = await engine.searcher.search(NONSENSE, { k: 50 });
    assert.equal(res.closeMatch, false);
    assert.equal(res.results.length, LIBRARY_SIZE);
    for (const r of res.results) {
      assert.equal(r.score, 0);
      assert.ok(r.match !== null && r.match < 50, `${name(r.path)}: match ${r.match}`);
    }
  });

  test('a colour query is a close match: its video first, scored above the line, the dark clips below it', async () => {
    for (const rerank of [true, false]) {
      for (const colour of ['red', 'green', 'blue']) {
        const res = await engine.searcher.search(colour, { k: 30, rerank });
        assert.equal(res.closeMatch, true, `${colour} (rerank ${rerank})`);
        // The clip's pure red, green or blue frames score 1 too when re-ranked (and its second
        // segment is all green): then the two tie and either may come first.
        const tie = rerank || colour === 'green';
        assert.ok(res.results.slice(0, tie ? 2 : 1).some((r) => name(r.path) === `${colour}.mp4`), `${colour}: ${name(res.results[0].path)} first`);
        assert.ok(res.results[0].match! >= 90, `match ${res.results[0].match}`);
        assert.ok(res.results[0].moments[0].match === res.results[0].match);
        for (const r of res.results.filter((x) => name(x.path).startsWith('night-'))) assert.ok(r.match! < 50, `${colour}: ${name(r.path)} match ${r.match}`);
      }
    }
  });

  test('pages: offset k, 2k, ... give the same order as one long list, and `more` says when to stop', async () => {
    for (const q of ['red', NONSENSE]) {
      const whole = await engine.searcher.search(q, { k: 50 });
      assert.equal(whole.more, false);
      const pages: SearchResponse[] = [];
      for (let offset = 0; ; offset += 10) {
        const page = await engine.searcher.search(q, { k: 10, offset });
        assert.equal(page.offset, offset);
        assert.equal(page.closeMatch, whole.closeMatch, 'closeMatch is the query\'s, on every page');
        pages.push(page);
        if (!page.more) break;
      }
      assert.equal(pages.length, 3);
      assert.deepEqual(
        pages.flatMap((p) => p.results.map((r) => r.videoId)),
        whole.results.map((r) => r.videoId),
        `query ${q}`,
      );
      assert.deepEqual(pages.flatMap((p) => p.results.map((r) => r.match)), whole.results.map((r) => r.match));
    }
    await assert.rejects(engine.searcher.search('red', { offset: -1 }), /offset must be an integer/);
    await assert.rejects(engine.searcher.search('red', { offset: 1001 }), /offset must be an integer/);
  });

  test('GET /api/search pages with k and offset (validated), and answers closeMatch and match', async () => {
    const get = async (qs: string) => {
      const res = await search(new Request(`http://localhost/api/search?${qs}`), undefined);
      return { status: res.status, body: await res.json() };
    };
    const first = await get('q=red&k=20');
    const second = await get('q=red&k=20&offset=20');
    assert.equal(first.status, 200);
    assert.equal(first.body.closeMatch, true);
    assert.equal(first.body.more, true);
    assert.equal(first.body.results.length, 20);
    assert.equal(typeof first.body.results[0].match, 'number');
    assert.equal(typeof first.body.results[0].score, 'number', 'score stays the cosine');
    assert.equal(second.body.offset, 20);
    assert.equal(second.body.more, false);
    assert.equal(second.body.results.length, LIBRARY_SIZE - 20);
    const seen = new Set(first.body.results.map((r: { videoId: number }) => r.videoId));
    for (const r of second.body.results) assert.ok(!seen.has(r.videoId), 'no video on two pages');
    assert.equal((await get(`q=${encodeURIComponent(NONSENSE)}`)).body.closeMatch, false);
    for (const bad of ['offset=-1', 'offset=abc', 'offset=1001', 'offset=1.5']) {
      const { status, body } = await get(`q=red&${bad}`);
      assert.equal(status, 400, bad);
      assert.match(body.error, /offset must be an integer from 0 to 1000/);
    }
  });

  test('vidsearch search prints the match and says when nothing is a close match', () => {
    const env = { PATH: process.env.PATH, VIDSEARCH_HOME: lib.cfg.home, VIDSEARCH_MODEL: lib.cfg.model, VIDSEARCH_THREADS: '1' } as unknown as NodeJS.ProcessEnv;
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'search', ...args], { env, encoding: 'utf8' });
    const nonsense = run(NONSENSE, '--k', '3');
    assert.equal(nonsense.status, 0, nonsense.stderr);
    assert.match(nonsense.stdout, /^no close match for "zzzz nonsense": showing the closest\n1\. /);
    assert.match(nonsense.stdout, /match \d+ \(cosine 0\.000\)/);
    const red = run('red', '--k', '2', '--offset', '1');
    assert.equal(red.status, 0, red.stderr);
    assert.doesNotMatch(red.stdout, /no close match/);
    assert.match(red.stdout, /^2\. /, 'numbered from the offset');
    assert.match(red.stderr, /more: --offset 3/);
    assert.equal(run('red', '--offset', 'x').status, 2);
  });
});
