// Search by example in a browser: "more like this" from a result card and from the video page's
// player, and search with a picture (file input and drop), on the built app with the test model.
// Answers are known: like the red video → the red part of green-red-green.mp4 first; a blue
// picture → blue.mp4 first. Screenshots at desktop and phone width, light and dark, go to
// test-artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { launchBrowser, requireChromium } from './browser';
import { openEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { runFfmpeg } from '../indexer/testkit/samples';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, makeTextFile, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testConfig } from './helpers';
import { ensureBuilt, startNext, type NextServer } from './next-server';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const rgb = (name: string) => TEST_COLORS[name] as RGB;

let browser: Browser | undefined;
let server: NextServer | undefined;
let bluePng = '';
let notes = '';
const ids = new Map<string, number>();

const VIEWS: Array<[string, BrowserContextOptions]> = [
  ['desktop-light', { viewport: { width: 1280, height: 800 } }],
  ['desktop-dark', { viewport: { width: 1280, height: 800 }, colorScheme: 'dark' }],
  ['phone-light', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 }],
  ['phone-dark', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, colorScheme: 'dark' }],
];

async function newPage(opts: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return page;
}

const cardTitles = (page: Page, scope = '') => page.locator(`${scope} [data-testid=result-card] .card-title`).allTextContents();
const imagesLoaded = (page: Page) => page.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0), undefined, { timeout: 10_000 });
const noSideScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

describe('search by example in a browser', () => {
  before(
    async () => {
      requireChromium();
      const lib = tempDir('vidsearch-lib-');
      for (const name of ['red', 'green', 'blue', 'yellow']) await makeColorVideo(path.join(lib, `${name}.mp4`), [{ color: rgb(name), seconds: 3 }]);
      await makeColorVideo(path.join(lib, 'green-red-green.mp4'), [
        { color: rgb('green'), seconds: 3 },
        { color: rgb('red'), seconds: 4 },
        { color: rgb('green'), seconds: 5 },
      ]);
      const cfg = await testConfig();
      const engine = await openEngine(cfg, { writer: true });
      try {
        const report = await indexTargets(engine, [lib]);
        assert.equal(report.indexed.length, 5);
        for (const v of await engine.store.videos()) ids.set(path.basename(v.path), v.id);
      } finally {
        await engine.close();
      }
      const pics = tempDir('vidsearch-pics-');
      bluePng = path.join(pics, 'blue.png');
      await runFfmpeg(['-f', 'lavfi', '-i', 'color=c=0x0000FF:s=320x240', '-frames:v', '1', '-f', 'image2', '-c:v', 'png', bluePng]);
      notes = path.join(pics, 'notes.png');
      await makeTextFile(notes);

      await ensureBuilt();
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      // Re-ranking stays on (the default): it is what an image query is ranked with.
      [server, browser] = await Promise.all([
        startNext({ VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, DATABASE_URL: cfg.databaseUrl, VIDSEARCH_UPLOAD_DIR: tempDir('vidsearch-uploads-') }),
        launchBrowser(),
      ]);
    },
    { timeout: 10 * 60_000 },
  );

  after(async () => {
    await browser?.close();
    if (server) {
      fs.writeFileSync(path.join(ARTIFACTS, 'next-server-example.log'), server.log());
      await server.stop();
    }
  });

  test('"more like this" on a result card: the other red moment first, the source video left out', { timeout: 60_000 }, async () => {
    const page = await newPage();
    await page.goto(`${server!.url}/?q=red`);
    const red = page.locator(`[data-testid=result-card][data-video-id="${ids.get('red.mp4')}"]`);
    await red.getByTestId('more-like-this').click();
    await page.waitForURL(new RegExp(`/\\?like=${ids.get('red.mp4')}&t=0$`));
    await page.getByTestId('like-source').waitFor();
    assert.match(await page.getByTestId('like-source').innerText(), /More like red\.mp4 at 0:00/);
    const titles = await cardTitles(page);
    assert.equal(titles[0], 'green-red-green.mp4');
    assert.ok(!titles.includes('red.mp4'), `the source video's only segment is left out: ${titles}`);
    const img = page.locator('[data-testid=result-card]').first().locator('img');
    assert.match((await img.getAttribute('src')) ?? '', /thumbnail\?t=[3-6](\.\d+)?$/, 'thumbnail at the red moment');
    await page.context().close();

    for (const [view, opts] of VIEWS) {
      const p = await newPage(opts);
      await p.goto(`${server!.url}/?like=${ids.get('red.mp4')}&t=0`);
      await p.getByTestId('result-card').first().waitFor();
      await imagesLoaded(p);
      assert.ok(await noSideScroll(p), `${view}: page wider than the viewport`);
      await p.screenshot({ path: path.join(ARTIFACTS, `like-${view}.png`), fullPage: true });
      await p.context().close();
    }
  });

  test('"more like this" on the video page asks the player where it is', { timeout: 30_000 }, async () => {
    const page = await newPage();
    await page.goto(`${server!.url}/videos/${ids.get('green-red-green.mp4')}?t=0`);
    const player = page.getByTestId('player');
    // Moved to the red part (as choosing a segment or playing would): that is the moment asked about.
    // Inline callbacks only: tsx names named functions with a helper the page does not have.
    await player.evaluate((v: HTMLVideoElement) => new Promise((resolve) => (v.readyState >= 1 ? resolve(0) : v.addEventListener('loadedmetadata', () => resolve(0), { once: true }))));
    await player.evaluate((v: HTMLVideoElement) => new Promise((resolve) => (v.addEventListener('seeked', () => resolve(0), { once: true }), (v.currentTime = 5))));
    await page.getByTestId('more-like-this').click();
    await page.waitForURL(new RegExp(`/\\?like=${ids.get('green-red-green.mp4')}&t=5$`));
    await page.getByTestId('result-card').first().waitFor();
    assert.equal((await cardTitles(page))[0], 'red.mp4');
    await page.context().close();
  });

  test('a picture chosen with the file input: a blue PNG finds blue.mp4 first and replaces the text results', { timeout: 60_000 }, async () => {
    for (const [view, opts] of VIEWS) {
      const page = await newPage(opts);
      await page.goto(`${server!.url}/?q=red`);
      await page.getByTestId('result-card').first().waitFor();
      await page.getByTestId('image-input').setInputFiles(bluePng);
      await page.getByTestId('image-results').waitFor();
      const titles = await cardTitles(page, '[data-testid=image-results]');
      assert.equal(titles[0], 'blue.mp4', `${view}: ${titles}`);
      assert.match(await page.getByTestId('image-results').innerText(), /look most like blue\.png/);
      assert.equal(await page.locator('.text-results').isVisible(), false, 'the text results are hidden meanwhile');
      await imagesLoaded(page);
      assert.ok(await noSideScroll(page), `${view}: page wider than the viewport`);
      await page.screenshot({ path: path.join(ARTIFACTS, `image-${view}.png`), fullPage: true });
      if (view === 'desktop-light') {
        // Clearing brings the text results back.
        await page.getByRole('button', { name: 'clear' }).click();
        await page.locator('.text-results').waitFor({ state: 'visible' });
      }
      await page.context().close();
    }
  });

  test('a picture dropped on the zone searches; a file that is not a picture says so', { timeout: 30_000 }, async () => {
    const page = await newPage();
    await page.goto(`${server!.url}/`);
    await page.getByTestId('drop-zone').waitFor();
    await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
      document.querySelector('[data-testid=drop-zone]')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, fs.readFileSync(bluePng).toString('base64'));
    await page.getByTestId('image-results').waitFor();
    assert.equal((await cardTitles(page, '[data-testid=image-results]'))[0], 'blue.mp4');

    await page.getByTestId('image-input').setInputFiles(notes);
    const error = page.getByTestId('image-error');
    await error.waitFor();
    assert.match(await error.innerText(), /notes\.png: not an image/);
    await page.context().close();
  });
});
