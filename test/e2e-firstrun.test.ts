// The first run in a browser: `npm start`'s server (scripts/server.ts, the built app) with no model
// in its models folder. It downloads the default model from a local Hugging Face-like host that
// sends slowly and holds halfway, so the page's progress can be looked at; then the search opens
// in the same page, without a restart or a reload. Offline (an endpoint that refuses
// connections) the page lists the files to place. The library and actions pages work without a
// model, and the missing-model message is logged once however many requests run into it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { launchBrowser, requireChromium } from './browser';
import { DEFAULT_MODEL } from '../indexer/services/config';
import { openEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { TEST_COLORS } from '../indexer/testkit/build';
import { REGISTRY } from '../models/registry';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { refusingEndpoint, serveModelFolder, type HfServer } from './hf-server';
import { REPO_ROOT, tempDir, testConfig, testModel } from './helpers';
import { ensureBuilt, startNext, type NextServer } from './next-server';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const spec = REGISTRY[DEFAULT_MODEL]!;
const TOKEN = 'first-run-test-token-0123456789';
// Every variant of the screenshots the issue asks for.
const LOOKS: Array<{ name: string; opts: BrowserContextOptions }> = [
  { name: 'desktop-light', opts: { viewport: { width: 1280, height: 800 }, colorScheme: 'light' } },
  { name: 'desktop-dark', opts: { viewport: { width: 1280, height: 800 }, colorScheme: 'dark' } },
  { name: 'phone-light', opts: { viewport: { width: 390, height: 844 }, colorScheme: 'light', isMobile: true, hasTouch: true } },
  { name: 'phone-dark', opts: { viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true } },
];

let browser: Browser | undefined;
let host: HfServer | undefined;
let downloading: NextServer | undefined;
let offline: NextServer | undefined;
let byPath: NextServer | undefined;
let downloadModels = '';
let offlineModels = '';
let offlineEndpoint = '';

async function newPage(opts: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

const count = (text: string, needle: string) => text.split(needle).length - 1;
// Model settings of the environment running the tests must not leak into these servers.
const clean = { VIDSEARCH_MODEL: '', VIDSEARCH_AUTO_PULL: '', HF_ENDPOINT: '', VIDSEARCH_THREADS: '1', VIDSEARCH_RERANK: '0' };

describe('first run: npm start without a model', () => {
  before(
    async () => {
      requireChromium();
      // A library indexed with the test model; the server then has to download that same model
      // (same bytes, so the same identity) as if it were the registry's default.
      const lib = tempDir('vidsearch-lib-');
      for (const name of ['red', 'green']) await makeColorVideo(path.join(lib, `${name}.mp4`), [{ color: TEST_COLORS[name] as RGB, seconds: 3 }]);
      const cfg = await testConfig({ labelSet: 'none' });
      const engine = await openEngine(cfg, { writer: true });
      try {
        assert.equal((await indexTargets(engine, [lib])).indexed.length, 2);
      } finally {
        await engine.close();
      }
      // 16 KiB every 40 ms, held after 1 MB of the model's 3.2 MB until the test lets it go.
      host = await serveModelFolder({ dir: await testModel(), repo: spec.repo, revision: spec.revision, holdAfter: 1_000_000 });
      downloadModels = tempDir('vidsearch-models-');
      offlineModels = tempDir('vidsearch-models-');
      const offlineHome = tempDir('vidsearch-home-');
      const pathHome = tempDir('vidsearch-home-');
      await ensureBuilt();
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      [downloading, offline, byPath, browser] = await Promise.all([
        startNext({ ...clean, VIDSEARCH_HOME: cfg.home, DATABASE_URL: cfg.databaseUrl, VIDSEARCH_MODELS_DIR: downloadModels, VIDSEARCH_HF_ENDPOINT: host.endpoint }),
        refusingEndpoint().then((endpoint) =>
          startNext({ ...clean, VIDSEARCH_HOME: offlineHome, DATABASE_URL: `file:${path.join(offlineHome, 'vidsearch.db')}`, VIDSEARCH_MODELS_DIR: offlineModels, VIDSEARCH_HF_ENDPOINT: (offlineEndpoint = endpoint) }),
        ),
        // A model folder the user named, missing: never downloaded; behind an API token.
        startNext({ ...clean, VIDSEARCH_HOME: pathHome, DATABASE_URL: `file:${path.join(pathHome, 'vidsearch.db')}`, VIDSEARCH_MODEL: path.join(pathHome, 'my-model'), VIDSEARCH_API_TOKEN: TOKEN }),
        launchBrowser(),
      ]);
    },
    { timeout: 10 * 60_000 },
  );

  after(async () => {
    await browser?.close();
    for (const [name, s] of [['downloading', downloading], ['offline', offline], ['by-path', byPath]] as const) {
      if (!s) continue;
      fs.writeFileSync(path.join(ARTIFACTS, `firstrun-${name}-server.log`), s.log());
      await s.stop();
    }
    await host?.close();
  });

  test('the search page shows the download (bytes, %, ETA); library and actions work meanwhile; then search opens without a reload', { timeout: 120_000 }, async () => {
    const page = await newPage();
    await page.goto(downloading!.url + '/');
    const setup = page.locator('[data-testid=model-setup][data-phase=downloading]');
    await setup.waitFor();
    // The held transfer: some bytes of a known total, a percentage, and an ETA.
    await page.getByTestId('model-eta').waitFor();
    assert.match(await page.getByTestId('model-bytes').innerText(), /^[\d.]+ (KB|MB) of 3\.\d MB$/);
    const pct = Number((await page.getByTestId('model-percent').innerText()).match(/(\d+)%/)![1]);
    assert.ok(pct > 0 && pct < 100, `percent ${pct}`);
    assert.match(await page.getByTestId('model-eta').innerText(), /about \d+ (s|min) left/);
    assert.equal(await page.getByRole('searchbox').count(), 0, 'no search box before the model is in place');
    // A marker that a full reload would drop.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));

    for (const look of LOOKS) {
      const p = await newPage(look.opts);
      await p.goto(downloading!.url + '/');
      await p.getByTestId('model-eta').waitFor();
      await p.screenshot({ path: path.join(ARTIFACTS, `firstrun-downloading-${look.name}.png`), fullPage: true });
      await p.context().close();
    }

    // No model needed to list the library or the actions.
    const lib = await newPage();
    await lib.goto(downloading!.url + '/library');
    assert.equal(await lib.getByTestId('library-item').count(), 2);
    assert.equal(await lib.getByTestId('engine-error').count(), 0);
    await lib.goto(downloading!.url + '/actions');
    assert.equal(await lib.getByRole('heading', { name: 'What happens in the videos' }).count(), 1);
    assert.equal(await lib.getByTestId('engine-error').count(), 0);
    await lib.context().close();

    const api = (await (await fetch(`${downloading!.url}/api/model`)).json()) as { phase: string; download: { bytesDone: number; bytesTotal: number } };
    assert.equal(api.phase, 'downloading');
    assert.ok(api.download.bytesDone > 0 && api.download.bytesDone < api.download.bytesTotal);

    host!.release();
    // The page notices by itself and renders the search box in place.
    const box = page.getByRole('searchbox', { name: /describe/i });
    await box.waitFor({ timeout: 60_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was not reloaded');
    await box.fill('red');
    await box.press('Enter');
    await page.getByTestId('result-card').first().waitFor();
    assert.equal(await page.getByTestId('result-card').first().locator('.card-title').innerText(), 'red.mp4');
    await page.context().close();

    // One download for all those pages and polls: each file fetched once, into the models folder.
    assert.deepEqual([...host!.gets.values()], [...host!.gets.keys()].map(() => 1), JSON.stringify([...host!.gets]));
    assert.ok(fs.existsSync(path.join(downloadModels, DEFAULT_MODEL, 'onnx', 'text_model.onnx')));
    const log = downloading!.log();
    assert.equal(count(log, 'downloading it from'), 1, log);
    assert.equal(count(log, 'search is ready'), 1, log);
  });

  test('offline: the page says so, lists each file and where to place it, and points to npm run demo and mirrors', { timeout: 60_000 }, async () => {
    const page = await newPage();
    await page.goto(offline!.url + '/');
    const setup = page.locator('[data-testid=model-setup][data-phase=offline]');
    await setup.waitFor();
    const text = await setup.innerText();
    assert.match(text, /Offline/);
    assert.match(text, /npm run demo/);
    assert.match(text, /HF_ENDPOINT/);
    const targets = await page.locator('[data-testid=model-files] .model-file-target').allInnerTexts();
    const dir = path.join(offlineModels, DEFAULT_MODEL);
    assert.deepEqual(targets, spec.files.filter((f) => !f.variant || f.variant === 'fp32').map((f) => path.join(dir, f.path)));
    const urls = await page.locator('[data-testid=model-files] .model-file-url').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    assert.deepEqual(urls, targets.map((t) => `${offlineEndpoint}/${spec.repo}/resolve/${spec.revision}/${path.relative(dir, t)}`));
    await page.context().close();
    for (const look of LOOKS) {
      const p = await newPage(look.opts);
      await p.goto(offline!.url + '/');
      await p.locator('[data-testid=model-setup][data-phase=offline]').waitFor();
      await p.screenshot({ path: path.join(ARTIFACTS, `firstrun-offline-${look.name}.png`), fullPage: true });
      await p.context().close();
    }
    // Every request that needs the model runs into it; the log says it once.
    for (let i = 0; i < 3; i++) {
      await fetch(`${offline!.url}/api/search?q=red`);
      await fetch(`${offline!.url}/api/health`);
      await fetch(`${offline!.url}/?q=red`);
    }
    assert.equal(count(offline!.log(), 'no network was reachable'), 1, offline!.log());
  });

  test('a model folder given by path is not downloaded; the error is logged once; GET /api/model asks for the credential', { timeout: 60_000 }, async () => {
    assert.equal((await fetch(`${byPath!.url}/api/model`)).status, 401);
    const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };
    const res = await fetch(`${byPath!.url}/api/model`, auth);
    assert.equal(res.status, 200);
    const state = (await res.json()) as { phase: string; autoPull: boolean; message: string };
    assert.equal(state.phase, 'missing');
    assert.equal(state.autoPull, false);
    assert.match(state.message, /model not found at/);
    for (let i = 0; i < 3; i++) {
      assert.equal((await fetch(`${byPath!.url}/api/search?q=red`, auth)).status, 503);
      assert.equal((await fetch(`${byPath!.url}/api/health`, auth)).status, 503);
    }
    assert.equal(count(byPath!.log(), 'model not found at'), 1, byPath!.log());
  });
});
