// The video and library pages in a browser, on a library built to stress them: a 30-minute video
// (180 segments: the timeline must stay inside a phone's page and be usable from the keyboard), a
// file that went missing after indexing, one that failed, and videos in two folders with known
// names, dates and lengths for the library's sort, folder filter and name search.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import { launchBrowser, requireChromium, seekedBy } from './browser';
import { openEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, makeTextFile, type RGB } from './fixtures/videos';
import type { Config } from '../indexer/services/config';
import { REPO_ROOT, tempDir, testConfig } from './helpers';
import { ensureBuilt, startNext, type NextServer } from './next-server';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'pages');
const rgb = (name: string) => TEST_COLORS[name] as RGB;
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 };
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };
// The phone first: it is where a page overflows.
const LOOKS: Array<[string, BrowserContextOptions]> = [
  ['phone-light', { ...PHONE, colorScheme: 'light' }],
  ['phone-dark', { ...PHONE, colorScheme: 'dark' }],
  ['desktop-light', { ...DESKTOP, colorScheme: 'light' }],
  ['desktop-dark', { ...DESKTOP, colorScheme: 'dark' }],
];

let browser: Browser | undefined;
let server: NextServer | undefined;
let lib = '';
let cfg: Config | undefined;
const ids = new Map<string, number>();
const DAY = 86_400;

async function newPage(opts: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser!.newContext({ ...DESKTOP, ...opts });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return page;
}

const noSideways = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

const names = (page: Page) => page.getByTestId('library-item').locator('.library-name').allTextContents();

describe('video and library pages in a browser', () => {
  before(
    async () => {
      requireChromium();
      lib = tempDir('vidsearch-lib-');
      const clips = path.join(lib, 'clips');
      const long = path.join(lib, 'long');
      fs.mkdirSync(clips);
      fs.mkdirSync(long);
      // 30 minutes at 1 fps and 32×24: about a second to make, a few to index.
      await makeColorVideo(path.join(long, 'lecture.mp4'), [{ color: rgb('red'), seconds: 600 }, { color: rgb('blue'), seconds: 1200 }], { width: 32, height: 24, fps: 1 });
      await makeColorVideo(path.join(clips, 'red.mp4'), [{ color: rgb('red'), seconds: 3 }]);
      await makeColorVideo(path.join(clips, 'Green.mp4'), [{ color: rgb('green'), seconds: 6 }]);
      await makeColorVideo(path.join(clips, 'gone.mp4'), [{ color: rgb('blue'), seconds: 2 }]);
      await makeTextFile(path.join(clips, 'notes.mkv'));
      // File dates for the date sort: lecture newest, then Green, gone, notes, red oldest.
      const now = Math.floor(Date.now() / 1000);
      const ages: Record<string, number> = { 'long/lecture.mp4': 1, 'clips/Green.mp4': 2, 'clips/gone.mp4': 3, 'clips/notes.mkv': 4, 'clips/red.mp4': 5 };
      for (const [file, days] of Object.entries(ages)) fs.utimesSync(path.join(lib, file), now - days * DAY, now - days * DAY);

      cfg = await testConfig();
      const engine = await openEngine(cfg, { writer: true });
      try {
        const report = await indexTargets(engine, [lib]);
        assert.equal(report.indexed.length, 4);
        assert.equal(report.failed.length, 1);
        for (const v of await engine.store.videos()) ids.set(path.basename(v.path), v.id);
      } finally {
        await engine.close();
      }
      // Gone after indexing: the row stays until the folder is indexed again.
      fs.rmSync(path.join(clips, 'gone.mp4'));

      await ensureBuilt();
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      [server, browser] = await Promise.all([
        startNext({ VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, DATABASE_URL: cfg.databaseUrl }),
        launchBrowser(),
      ]);
    },
    { timeout: 10 * 60_000 },
  );

  after(async () => {
    await browser?.close();
    if (server) {
      fs.writeFileSync(path.join(ARTIFACTS, 'next-server.log'), server.log());
      await server.stop();
    }
  });

  test("store: the library page's browse queries (sort, folder, name), straight on the store", async () => {
    const engine = await openEngine(cfg!);
    const clips = path.join(lib, 'clips');
    const long = path.join(lib, 'long');
    try {
      assert.deepEqual((await engine.store.videos({ sort: 'name' })).map((v) => path.basename(v.path)), ['gone.mp4', 'Green.mp4', 'lecture.mp4', 'notes.mkv', 'red.mp4']);
      assert.deepEqual((await engine.store.videos({ sort: 'date', limit: 2, offset: 1 })).map((v) => path.basename(v.path)), ['Green.mp4', 'gone.mp4']);
      assert.deepEqual((await engine.store.videos({ sort: 'duration', status: 'indexed' })).map((v) => path.basename(v.path)), ['lecture.mp4', 'Green.mp4', 'red.mp4', 'gone.mp4']);
      // A folder is a prefix of whole components; a name matches the file name, not its folders.
      assert.equal(await engine.store.countVideos({ dir: clips }), 4);
      assert.equal(await engine.store.countVideos({ dir: path.join(lib, 'clip') }), 0);
      assert.equal(await engine.store.countVideos({ name: 'LONG' }), 0);
      assert.deepEqual((await engine.store.videos({ name: 'e.m' })).map((v) => path.basename(v.path)), ['gone.mp4', 'lecture.mp4']);
      assert.deepEqual(await engine.store.videoFolders(), [
        { dir: clips, videos: 4 },
        { dir: long, videos: 1 },
      ]);
    } finally {
      await engine.close();
    }
  });

  test('a 30-minute video: the timeline stays inside a phone page, with a readable scale, and zooms inside itself', { timeout: 60_000 }, async () => {
    for (const [look, opts] of LOOKS) {
      const page = await newPage(opts);
      await page.goto(`${server!.url}/videos/${ids.get('lecture.mp4')}?q=red`);
      const segments = page.getByTestId('timeline-segment');
      assert.equal(await segments.count(), 180);
      // The first 10 minutes are red: shaded fully; the blue rest not at all.
      const shades = await segments.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-shade'))));
      assert.deepEqual([shades[0], shades[59], shades[60], shades[179]], [1, 1, 0, 0]);
      assert.ok(await noSideways(page), `${look}: the page is wider than the viewport`);
      const width = opts.viewport!.width;
      const strip = (await page.getByTestId('timeline').boundingBox())!;
      assert.ok(strip.x >= 0 && strip.x + strip.width <= width, `${look}: the strip (${strip.x}+${strip.width}) leaves the page`);
      // Scale labels: several, in time order, none overlapping the next.
      const ticks = await page
        .getByTestId('timeline-scale')
        .locator('.tick')
        .evaluateAll((els) => els.map((e) => ({ text: e.textContent, box: e.getBoundingClientRect().toJSON() as DOMRect })));
      assert.ok(ticks.length >= 3, `${look}: only ${ticks.length} scale labels`);
      assert.equal(ticks[0].text, '0:00');
      assert.equal(ticks.at(-1)!.text, '30:00');
      for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i - 1].box.right <= ticks[i].box.left, `${look}: labels ${ticks[i - 1].text} and ${ticks[i].text} overlap`);
      await page.screenshot({ path: path.join(ARTIFACTS, `video-long-${look}.png`), fullPage: true });

      // Zoomed in, the strip scrolls inside its box; the page still does not.
      await page.getByTestId('zoom-in').click();
      await page.getByTestId('zoom-in').click();
      assert.equal(await page.getByTestId('zoom-level').innerText(), '×4');
      const scroll = page.getByTestId('timeline-scroll');
      assert.ok(await scroll.evaluate((el) => el.scrollWidth > el.clientWidth * 3), `${look}: zoom did not widen the strip`);
      assert.ok(await noSideways(page), `${look}: zoomed, the page is wider than the viewport`);
      if (look === 'phone-light') await page.screenshot({ path: path.join(ARTIFACTS, `video-long-zoomed-${look}.png`) });
      const cell = (await segments.nth(100).boundingBox())!;
      assert.ok(cell.width >= 4 * (strip.width / 180) - 1, `${look}: zoomed cells are ${cell.width} px`);
      await page.context().close();
    }
  });

  test('the timeline from the keyboard: one tab stop, arrows choose a segment, Enter plays from it', { timeout: 30_000 }, async () => {
    const page = await newPage(PHONE);
    await page.goto(`${server!.url}/videos/${ids.get('lecture.mp4')}?q=red`);
    const slider = page.getByRole('slider', { name: /timeline/i });
    await slider.focus();
    assert.equal(await slider.getAttribute('aria-valuemax'), '180');
    await slider.press('End');
    assert.equal(await slider.getAttribute('aria-valuenow'), '180');
    await slider.press('ArrowLeft');
    await slider.press('ArrowLeft');
    assert.equal(await slider.getAttribute('aria-valuenow'), '178');
    assert.match((await slider.getAttribute('aria-valuetext')) ?? '', /^Segment 178 of 180: 29:30 to 29:40, similarity/);
    assert.match(await page.getByTestId('timeline-readout').innerText(), /178 of 180: 29:30 to 29:40/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'video-long-keyboard-phone-light.png') });
    const at = await seekedBy(page.getByTestId('player'), () => slider.press('Enter'));
    assert.ok(at >= 1770 && at <= 1780, `Enter on segment 178 seeked to ${at}`);
    // Tab leaves the strip: it is one control, not 180 stops.
    await page.keyboard.press('Tab');
    assert.notEqual(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'timeline-segment');
    assert.equal(await page.locator('[data-testid=timeline-segment][tabindex], [data-testid=timeline] button').count(), 0);
    await page.context().close();
  });

  test('a video whose file is gone: no player, the missing state in the notice and the status line, the command that fixes it', { timeout: 30_000 }, async () => {
    for (const [look, opts] of LOOKS) {
      const page = await newPage(opts);
      await page.goto(`${server!.url}/videos/${ids.get('gone.mp4')}`);
      const notice = page.getByTestId('file-state');
      assert.equal(await notice.getAttribute('data-state'), 'missing');
      assert.match(await notice.innerText(), /file missing[\s\S]*gone from disk/);
      assert.equal(await notice.getByTestId('fix-command').innerText(), `vidsearch index ${path.join(lib, 'clips')}`);
      assert.equal(await page.locator('video').count(), 0, 'no player for a file that cannot be served');
      assert.equal(await page.getByTestId('timeline').count(), 0);
      assert.match(await page.getByTestId('video-status').innerText(), /indexed\s*file missing/);
      assert.ok(await noSideways(page), `${look}: the page is wider than the viewport`);
      if (look.endsWith('light') || look === 'phone-dark') await page.screenshot({ path: path.join(ARTIFACTS, `video-missing-${look}.png`), fullPage: true });
      await page.context().close();
    }
  });

  test('a file that failed: its error and the exact command that retries it', { timeout: 30_000 }, async () => {
    for (const [look, opts] of LOOKS.filter(([l]) => l !== 'desktop-dark')) {
      const page = await newPage(opts);
      await page.goto(`${server!.url}/videos/${ids.get('notes.mkv')}`);
      const notice = page.getByTestId('video-error');
      assert.match(await notice.innerText(), /not a video/);
      assert.equal(await notice.getByTestId('fix-command').innerText(), `vidsearch index --retry-failed ${path.join(lib, 'clips')}`);
      assert.equal(await page.locator('video').count(), 0);
      assert.match(await page.getByTestId('video-status').innerText(), /^failed$/);
      assert.ok(await noSideways(page), `${look}: the page is wider than the viewport`);
      await page.screenshot({ path: path.join(ARTIFACTS, `video-failed-${look}.png`), fullPage: true });
      await page.context().close();
    }
  });

  test('library: thumbnails load; sort by name, date and duration; filter by folder; search in names; all in the URL', { timeout: 60_000 }, async () => {
    const page = await newPage();
    await page.goto(`${server!.url}/library`);
    // By name by default, case aside.
    assert.deepEqual(await names(page), ['gone.mp4', 'Green.mp4', 'lecture.mp4', 'notes.mkv', 'red.mp4']);
    // A thumbnail for every video whose file can be served, and only for those.
    const thumbs = page.getByTestId('library-thumb');
    assert.equal(await thumbs.count(), 3);
    for (const img of await thumbs.all()) assert.equal(await img.getAttribute('loading'), 'lazy');
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('[data-testid=library-thumb]')].every((i) => i.complete && i.naturalWidth > 0), undefined, { timeout: 15_000 });
    const gone = page.getByTestId('library-item').filter({ hasText: 'gone.mp4' });
    assert.equal(await gone.getByTestId('file-state').getAttribute('data-state'), 'missing');

    const controls = page.getByTestId('library-controls');
    await controls.getByLabel('Sort by').selectOption('date');
    await controls.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/\/library\?sort=date$/);
    await page.waitForFunction(() => document.querySelector('[data-testid=library-item] .library-name')?.textContent === 'lecture.mp4');
    assert.deepEqual(await names(page), ['lecture.mp4', 'Green.mp4', 'gone.mp4', 'notes.mkv', 'red.mp4']);

    await controls.getByLabel('Sort by').selectOption('duration');
    await controls.getByLabel('Folder').selectOption(path.join(lib, 'clips'));
    await controls.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL((u) => u.searchParams.get('sort') === 'duration' && u.searchParams.get('folder') === path.join(lib, 'clips'));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=library-item]').length === 4);
    // Longest first; a failed file has no length and comes last.
    assert.deepEqual(await names(page), ['Green.mp4', 'red.mp4', 'gone.mp4', 'notes.mkv']);
    await page.screenshot({ path: path.join(ARTIFACTS, 'library-clips-by-duration.png'), fullPage: true });

    await controls.getByLabel('Name contains').fill('GREEN');
    await controls.getByLabel('Name contains').press('Enter');
    await page.waitForURL((u) => u.searchParams.get('name') === 'GREEN');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=library-item]').length === 1);
    assert.deepEqual(await names(page), ['Green.mp4']);
    // The status chips count within the filters, and keep them.
    const failedChip = page.getByRole('link', { name: /^failed \(0\)$/ });
    assert.match((await failedChip.getAttribute('href')) ?? '', /^\/library\?status=failed&name=GREEN&folder=[^&]+&sort=duration$/);

    // A link with nonsense in it still shows the library, as if the nonsense were not there.
    await page.goto(`${server!.url}/library?sort=size&page=-3&status=odd`);
    await page.waitForURL(/\/library$/);
    await page.getByTestId('library-item').first().waitFor();
    assert.deepEqual(await names(page), ['gone.mp4', 'Green.mp4', 'lecture.mp4', 'notes.mkv', 'red.mp4']);
    await page.context().close();

    // Server-rendered: the same without JavaScript.
    const plain = await newPage({ javaScriptEnabled: false });
    await plain.goto(`${server!.url}/library`);
    await plain.getByTestId('library-controls').getByLabel('Folder').selectOption(path.join(lib, 'long'));
    await plain.getByTestId('library-controls').getByRole('button', { name: 'Show' }).click();
    // The empty name field is dropped from the URL: one link per view.
    await plain.waitForURL((u) => u.search === `?${new URLSearchParams({ folder: path.join(lib, 'long') })}`);
    await plain.getByTestId('library-item').first().waitFor();
    assert.deepEqual(await names(plain), ['lecture.mp4']);
    await plain.context().close();

    for (const [look, opts] of LOOKS) {
      const p = await newPage(opts);
      await p.goto(`${server!.url}/library`);
      await p.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('[data-testid=library-thumb]')].every((i) => i.complete && i.naturalWidth > 0), undefined, { timeout: 15_000 });
      assert.ok(await noSideways(p), `${look}: the library is wider than the viewport`);
      await p.screenshot({ path: path.join(ARTIFACTS, `library-${look}.png`), fullPage: true });
      await p.context().close();
    }
  });
});
