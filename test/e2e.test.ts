// The web UI end to end: generated videos indexed with the test model, the built app served by
// `next start`, driven by Debian's chromium. Answers are known in advance ("red" finds red.mp4
// first, and the red part of the blue→red→green clip), so the test checks what the user sees and
// where the player actually is.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { launchBrowser, requireChromium, seekedBy } from './browser';
import { customLabelSet } from '../indexer/services/actions';
import { openEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { retagAll } from '../indexer/services/tagging';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, makeTextFile, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testConfig, testModel } from './helpers';
import { ensureBuilt, startNext, type NextServer } from './next-server';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const rgb = (name: string) => TEST_COLORS[name] as RGB;

let browser: Browser | undefined;
let server: NextServer | undefined;
let spare: NextServer | undefined;
let lateModel = '';
const ids = new Map<string, number>();

async function newPage(opts: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  // Fail with Playwright's message (what it waited for) well before the test's own timeout.
  page.setDefaultTimeout(10_000);
  return page;
}

const card = (page: Page, file: string) => page.locator(`[data-testid=result-card][data-video-id="${ids.get(file)}"]`);

/** Resolves with currentTime once the element is playing; rejects on a media error or after 10 s. */
function playingAt(player: Locator): Promise<number> {
  return player.evaluate(
    (v: HTMLVideoElement) =>
      new Promise<number>((resolve, reject) => {
        // Inline callbacks only: tsx names named functions with a helper the page does not have.
        v.addEventListener('playing', () => resolve(v.currentTime), { once: true });
        v.addEventListener('error', () => reject(new Error(`media error ${v.error?.code}: ${v.error?.message} (src ${v.currentSrc})`)), { once: true });
        setTimeout(() => reject(new Error(`not playing after 10 s: paused=${v.paused} readyState=${v.readyState} t=${v.currentTime}`)), 10_000);
        // An error from before the listener was attached goes through it all the same.
        if (v.error) v.dispatchEvent(new Event('error'));
        else if (!v.paused && v.readyState >= 3) resolve(v.currentTime);
      }),
  );
}

const cardTitles = (page: Page) => page.getByTestId('result-card').locator('.card-title').allTextContents();

describe('web UI in a browser', () => {
  before(
    async () => {
      requireChromium();
      const lib = tempDir('vidsearch-lib-');
      for (const name of ['red', 'green', 'blue']) await makeColorVideo(path.join(lib, `${name}.mp4`), [{ color: rgb(name), seconds: 3 }]);
      await makeColorVideo(path.join(lib, 'blue-red-green.mp4'), [
        { color: rgb('blue'), seconds: 4 },
        { color: rgb('red'), seconds: 4 },
        { color: rgb('green'), seconds: 4 },
      ]);
      await makeTextFile(path.join(lib, 'notes.mkv'));
      const cfg = await testConfig();
      const engine = await openEngine(cfg, { writer: true });
      try {
        const report = await indexTargets(engine, [lib]);
        assert.equal(report.indexed.length, 4);
        assert.deepEqual(report.failed.map((f) => path.basename(f.path)), ['notes.mkv']);
        for (const v of await engine.store.videos()) ids.set(path.basename(v.path), v.id);
        // Colour words as the action labels: with the test model the tags are known in advance.
        await retagAll(engine, customLabelSet(['red', 'green', 'blue', 'yellow', 'magenta']));
      } finally {
        await engine.close();
      }

      await ensureBuilt();
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      // Re-ranking (on by default) scores red.mp4 and the clip's pure red frames alike, so their
      // order would be float noise; mean pooling keeps them apart (1.0 and about 0.5).
      const env = { VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, DATABASE_URL: cfg.databaseUrl, VIDSEARCH_RERANK: '0' };
      // A second server on an empty data directory, whose model folder appears only later.
      const spareHome = tempDir('vidsearch-home-');
      lateModel = path.join(spareHome, 'late-model');
      [server, spare, browser] = await Promise.all([
        startNext(env),
        startNext({ VIDSEARCH_HOME: spareHome, VIDSEARCH_MODEL: lateModel, DATABASE_URL: `file:${path.join(spareHome, 'vidsearch.db')}` }),
        launchBrowser(),
      ]);
    },
    { timeout: 10 * 60_000 },
  );

  after(async () => {
    await browser?.close();
    for (const s of [server, spare]) {
      if (!s) continue;
      fs.writeFileSync(path.join(ARTIFACTS, s === server ? 'next-server.log' : 'next-server-spare.log'), s.log());
      await s.stop();
    }
  });

  test('search "red": red.mp4 first, the blue→red→green clip second; the query is in the URL', { timeout: 30_000 }, async () => {
    const page = await newPage();
    await page.goto(server!.url + '/');
    const box = page.getByRole('searchbox', { name: /describe/i });
    await box.fill('red');
    await box.press('Enter');
    await page.waitForURL(/\/\?q=red$/);
    await page.getByTestId('result-card').first().waitFor();
    const titles = await cardTitles(page);
    assert.deepEqual(titles.slice(0, 2), ['red.mp4', 'blue-red-green.mp4']);
    assert.equal(await box.inputValue(), 'red');
    // Every thumbnail asks for the best moment of its video, with alt text.
    const img = page.getByTestId('result-card').nth(1).locator('img');
    assert.match((await img.getAttribute('src')) ?? '', new RegExp(`^/api/videos/${ids.get('blue-red-green.mp4')}/thumbnail\\?t=[4-7](\\.\\d+)?$`));
    assert.match((await img.getAttribute('alt')) ?? '', /blue-red-green\.mp4 at 0:0[4-7]/);
    await page.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0), undefined, { timeout: 10_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'search-red.png'), fullPage: true });
    await page.context().close();
  });

  test('the production server sends the stream with Content-Length (Next alone would drop it)', { timeout: 30_000 }, async () => {
    const id = ids.get('red.mp4');
    const head = await fetch(`${server!.url}/api/videos/${id}/stream`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const size = Number(head.headers.get('content-length'));
    assert.ok(size > 0, 'Content-Length on HEAD');
    const part = await fetch(`${server!.url}/api/videos/${id}/stream`, { headers: { Range: 'bytes=10-19' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-length'), '10');
    assert.equal(part.headers.get('content-range'), `bytes 10-19/${size}`);
    assert.equal((await part.arrayBuffer()).byteLength, 10);
    const bad = await fetch(`${server!.url}/api/videos/..%2F..%2Fetc%2Fpasswd/stream`);
    assert.equal(bad.status, 400);
  });

  test('a result plays in place from its best moment; a moment chip seeks (keyboard too)', { timeout: 30_000 }, async () => {
    const page = await newPage();
    await page.goto(`${server!.url}/?q=red`);
    const clip = card(page, 'blue-red-green.mp4');
    await clip.getByTestId('play').click();
    const player = clip.getByTestId('player');
    const t = await playingAt(player);
    assert.ok(t >= 4 && t <= 8, `the clip starts in its red part (4–8 s), at ${t}`);

    // The other moment of the clip is its last segment (10–12 s); chosen from the keyboard.
    const chip = clip.getByTestId('moment-chip').first();
    const chipTime = Number(await chip.getAttribute('data-time'));
    assert.ok(chipTime >= 10 && chipTime <= 12, `chip at ${chipTime}`);
    const seeked = await seekedBy(player, () => chip.press('Enter'));
    assert.ok(seeked >= 10 && seeked <= 12, `seeked to ${seeked}`);

    const red = card(page, 'red.mp4');
    await red.getByTestId('play').click();
    const redAt = await playingAt(red.getByTestId('player'));
    assert.ok(redAt >= 0 && redAt <= 3, `red.mp4 at ${redAt}`);
    await page.context().close();
  });

  test('phone width and dark mode render the results', { timeout: 30_000 }, async () => {
    for (const [file, opts] of [
      ['search-red-phone.png', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 }],
      ['search-red-dark.png', { colorScheme: 'dark' }],
    ] as const) {
      const page = await newPage(opts);
      await page.goto(`${server!.url}/?q=red`);
      await page.getByTestId('result-card').first().locator('img').waitFor();
      // Nothing wider than the screen: no sideways scrolling on a phone.
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${file}: page wider than the viewport`);
      await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
      await page.context().close();
    }
  });

  test('library: counts, the failed file with its error, filter by status', { timeout: 30_000 }, async () => {
    const page = await newPage();
    await page.goto(`${server!.url}/library`);
    assert.match(await page.getByTestId('library-summary').innerText(), /5 videos: 4 indexed, 1 failed, 0 pending/);
    const notes = page.getByTestId('library-item').filter({ hasText: 'notes.mkv' });
    assert.equal(await notes.getAttribute('data-status'), 'failed');
    assert.match(await notes.innerText(), /failed[\s\S]*not a video/);
    await page.getByRole('link', { name: /^failed \(1\)$/ }).click();
    await page.waitForURL(/\/library\?status=failed$/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=library-item]').length === 1);
    assert.deepEqual(await page.getByTestId('library-item').locator('.library-name').allTextContents(), ['notes.mkv']);
    await page.screenshot({ path: path.join(ARTIFACTS, 'library.png'), fullPage: true });
    await page.context().close();
  });

  test('video page: timeline shaded by "red", a segment seeks the player; metadata; 404', { timeout: 30_000 }, async () => {
    const page = await newPage();
    await page.goto(`${server!.url}/videos/${ids.get('blue-red-green.mp4')}?q=red`);
    const segments = page.getByTestId('timeline-segment');
    assert.equal(await segments.count(), 2);
    // Segment 0 (0–10 s) holds the red part, segment 1 (10–12 s) only green.
    assert.deepEqual(await segments.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-shade')))), [1, 0]);
    const colors = await segments.evaluateAll((els) => els.map((e) => getComputedStyle(e).backgroundColor));
    assert.notEqual(colors[0], colors[1], 'the closer segment is shaded differently');
    const facts = await page.locator('.facts').innerText();
    assert.match(facts, /blue-red-green\.mp4/);
    assert.match(facts, /160 × 120/);
    assert.match(facts, /0:12/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'video-red.png'), fullPage: true });
    // Without a time in the link, the player starts at the query's best moment: the red part.
    const player = page.getByTestId('player');
    const startAt = await player.evaluate(
      (v: HTMLVideoElement) => new Promise<number>((resolve) => (v.readyState >= 1 ? resolve(v.currentTime) : v.addEventListener('loadedmetadata', () => resolve(v.currentTime), { once: true }))),
    );
    assert.ok(startAt >= 4 && startAt <= 8, `starts at ${startAt}`);
    const at = await seekedBy(player, () => segments.nth(1).click());
    assert.ok(at >= 10 && at <= 12, `seeked to ${at}`);

    await page.goto(`${server!.url}/videos/${ids.get('notes.mkv')}`);
    assert.match(await page.getByTestId('video-error').innerText(), /not a video/);
    const missing = await page.goto(`${server!.url}/videos/999999`);
    assert.equal(missing?.status(), 404, 'an unknown video is a real 404, not a 200 page saying so');
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.context().close();
  });

  test('action tags: a tag on a result card filters the search (keyboard); the filter chip removes it; browse by action', { timeout: 30_000 }, async () => {
    const page = await newPage();
    await page.goto(`${server!.url}/?q=red`);
    await page.getByTestId('result-card').first().waitFor();
    assert.equal((await cardTitles(page)).length, 4);
    const tag = card(page, 'red.mp4').getByTestId('tag').first();
    assert.equal(await tag.getAttribute('data-label'), 'red');
    assert.match(await tag.innerText(), /^red[\s,]*\d+%$/);
    assert.match((await tag.getAttribute('title')) ?? '', /relative/);
    await tag.focus();
    await tag.press('Enter');
    await page.waitForURL(/\/\?q=red&action=red$/);
    await page.getByTestId('action-filter').waitFor();
    // Only videos with red moments are left: red.mp4 and the clip, not green.mp4 or blue.mp4.
    await page.waitForFunction(() => {
      const titles = [...document.querySelectorAll('[data-testid=result-card] .card-title')].map((e) => e.textContent);
      return titles.length > 0 && titles.every((t) => t === 'red.mp4' || t === 'blue-red-green.mp4');
    });
    assert.equal((await cardTitles(page))[0], 'red.mp4');
    await page.screenshot({ path: path.join(ARTIFACTS, 'search-red-action-red.png'), fullPage: true });
    await page.getByRole('link', { name: /remove the action filter/i }).click();
    await page.waitForURL(/\/\?q=red$/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=result-card]').length === 4);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Actions' }).click();
    await page.waitForURL(/\/actions$/);
    const items = page.getByTestId('action-item');
    await items.first().waitFor();
    const labels = await items.evaluateAll((els) => els.map((e) => e.getAttribute('data-label')));
    for (const colour of ['red', 'green', 'blue']) assert.ok(labels.includes(colour), `${colour} in ${labels}`);
    assert.match(await page.getByTestId('actions-summary').innerText(), /relative/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'actions.png'), fullPage: true });
    await items.filter({ hasText: 'green' }).click();
    await page.waitForURL(/\/actions\/green$/);
    const videos = await page.getByTestId('action-video').locator('.library-name').allTextContents();
    assert.ok(videos.includes('green.mp4') && !videos.includes('red.mp4'), String(videos));

    // The video page: the whole video's tags and each segment's top label under the timeline.
    await page.goto(`${server!.url}/videos/${ids.get('blue-red-green.mp4')}`);
    const segmentLabels = await page.getByTestId('segment-label').evaluateAll((els) => els.map((e) => e.getAttribute('data-label')));
    assert.equal(segmentLabels.length, 2);
    assert.equal(segmentLabels[1], 'green', 'the 10–12 s segment is all green');
    assert.ok((await page.getByTestId('video-tags').getByTestId('tag').count()) > 0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'video-tags.png'), fullPage: true });
    await page.context().close();
  });

  test('engine states: a missing model shows how to get one; then an empty library says how to index', { timeout: 30_000 }, async () => {
    const page = await newPage();
    await page.goto(`${spare!.url}/?q=red`);
    assert.match(await page.getByTestId('engine-error').innerText(), /vidsearch models pull/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'engine-error.png') });
    // The model arrives; a failed open is not cached, so no restart is needed.
    fs.symlinkSync(await testModel(), lateModel);
    await page.reload();
    assert.match(await page.getByTestId('empty-library').innerText(), /vidsearch index <folder>/);
    await page.context().close();
  });
});
