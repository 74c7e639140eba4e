// Libraries and the queue with `npm start` running (scripts/start.ts: the web server, the watchers
// and one worker): `vidsearch index <another folder>` while the server's worker indexes the folder
// it follows: both proceed at once, neither is refused, and the CLI's videos appear on the open
// Library page without a reload and in the running server's searches without a restart. Then a
// folder added from the Library page is indexed, and removing it there (after the confirmation)
// takes its videos out of the index and leaves its files. Real processes, SQLite, ffmpeg, browser.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { launchBrowser, requireChromium } from './browser';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testModel, withDatabaseFile } from './helpers';
import { ensureBuilt, startNext, type NextServer } from './next-server';

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'libraries');
const BIN = path.join(REPO_ROOT, 'bin', 'vidsearch.js');
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 };
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };
const rgb = (name: string) => TEST_COLORS[name] as RGB;

// Three folders, three sets of colours, so that a colour query says which folder a video is from.
// The followed folder has enough to do (long videos at 10 fps) that its worker is still busy when
// the CLI has finished; the CLI's and the added folder's videos are short.
const WATCHED = ['red', 'green', 'blue', 'white', 'black'].flatMap((c) => [c, c]);
const CLI = ['yellow', 'magenta'];
const ADDED = ['orange', 'purple'];

let browser: Browser | undefined;
let server: NextServer | undefined;
let home = '';
let model = '';
let watched = '';
let other = '';
let added = '';

interface Job {
  id: number;
  kind: string;
  key: string;
  libraryId: number | null;
  state: string;
  startedAt: number | null;
  finishedAt: number | null;
}
interface SearchResult {
  path: string;
}

async function api<T>(route: string, init?: RequestInit): Promise<T> {
  const res = await fetch(server!.url + route, init);
  const body = (await res.json()) as T;
  assert.ok(res.ok, `${route}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

const jobs = async () => (await api<{ jobs: Job[] }>('/api/jobs?limit=500')).jobs;
const search = async (q: string) => (await api<{ results: SearchResult[] }>(`/api/search?q=${encodeURIComponent(q)}&k=20`)).results;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}\n${server?.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function newPage(opts: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser!.newContext({ ...DESKTOP, ...opts });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return page;
}

/** The names in the Library page's list whose picture has loaded: indexed, and served. */
const shownIndexed = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('[data-testid=library-item]')]
      .filter((li) => {
        const img = li.querySelector<HTMLImageElement>('[data-testid=library-thumb]');
        return img !== null && img.complete && img.naturalWidth > 0;
      })
      .map((li) => li.querySelector('.library-name')?.textContent ?? ''),
  );

const shownNames = (page: Page) => page.getByTestId('library-item').locator('.library-name').allTextContents();

/** `vidsearch index <dir> --json` on the server's data directory, as a user runs it beside `npm start`. */
function cliIndex(dir: string): Promise<{ code: number | null; stdout: string; stderr: string; startedAt: number; endedAt: number }> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const child = spawn(process.execPath, [BIN, 'index', dir, '--json'], {
      env: { ...process.env, VIDSEARCH_HOME: home, VIDSEARCH_MODEL: model, VIDSEARCH_THREADS: '1', DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr, startedAt, endedAt: Date.now() }));
  });
}

const under = (dir: string) => (p: string) => p.startsWith(fs.realpathSync(dir) + path.sep) || p.startsWith(dir + path.sep);

describe('libraries with npm start running: the CLI beside the server, folders from the web app', () => {
  before(
    async () => {
      requireChromium();
      model = await testModel();
      home = tempDir('vidsearch-home-');
      watched = tempDir('vidsearch-watched-');
      other = tempDir('vidsearch-other-');
      added = tempDir('vidsearch-added-');
      await Promise.all([
        // 2 minutes at 10 fps: every frame decoded, 120 encoded, about a second each on this machine.
        ...WATCHED.map((c, i) => makeColorVideo(path.join(watched, `watched-${i}-${c}.mp4`), [{ color: rgb(c), seconds: 120 }], { width: 320, height: 240, fps: 10 })),
        ...CLI.map((c) => makeColorVideo(path.join(other, `cli-${c}.mp4`), [{ color: rgb(c), seconds: 3 }])),
        ...ADDED.map((c) => makeColorVideo(path.join(added, `ui-${c}.mp4`), [{ color: rgb(c), seconds: 3 }])),
      ]);
      await ensureBuilt();
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      [server, browser] = await Promise.all([
        startNext(
          // The environment running the tests must not choose the model or the database here.
          { VIDSEARCH_HOME: home, VIDSEARCH_MODEL: model, DATABASE_URL: '', VIDSEARCH_LIBRARY: watched, VIDSEARCH_THREADS: '1', VIDSEARCH_RERANK: '0', VIDSEARCH_WORKER: '' },
          { script: 'start', timeoutMs: 120_000 },
        ),
        launchBrowser(),
      ]);
    },
    { timeout: 10 * 60_000 },
  );

  after(async () => {
    await browser?.close();
    if (server) {
      await server.stop();
      fs.writeFileSync(path.join(ARTIFACTS, 'npm-start.log'), server.log());
      // Nothing of `npm start` is left running: the server, its worker and their ffmpeg are gone.
      let alive = true;
      try {
        process.kill(-server.pgid, 0);
      } catch {
        alive = false;
      }
      assert.equal(alive, false, `processes of npm start's group ${server.pgid} are still running`);
      // Stopped, not killed: the worker handed back or finished its work and said so.
      assert.match(server.log(), /"event":"stopped"/, server.log().slice(-2000));
    }
  });

  test('`vidsearch index <other folder>` while the server indexes its own: both proceed; the new videos appear on the open Library page and in searches', { timeout: 240_000 }, async () => {
    // The server's worker is at work on the folder it follows.
    await until('the server worker indexing the followed folder', async () => (await jobs()).some((j) => j.kind === 'index' && j.state === 'running' && under(watched)(j.key)));
    const page = await newPage();
    await page.goto(`${server!.url}/library`);
    await page.getByTestId('libraries').waitFor();
    assert.equal(await page.getByTestId('library-row').count(), 1);
    // A marker that a reload would drop.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    assert.deepEqual((await shownNames(page)).filter((n) => n.startsWith('cli-')), []);

    const cli = await cliIndex(other);
    assert.equal(cli.code, 0, `vidsearch index exited ${cli.code}:\n${cli.stderr.slice(-2000)}`);
    assert.doesNotMatch(cli.stderr, /another vidsearch process|is writing|refused/i);
    const report = JSON.parse(cli.stdout) as { indexed: Array<{ path: string }>; failed: unknown[]; skipped: unknown[] };
    assert.deepEqual(report.indexed.map((r) => path.basename(r.path)).sort(), CLI.map((c) => `cli-${c}.mp4`).sort(), cli.stdout);
    assert.deepEqual(report.failed, []);

    // Both at once: while the CLI's files were indexed, the server's worker was indexing its folder
    // (the CLI works on its own run's jobs only, so every job of the followed folder is the server's).
    const all = await jobs();
    const cliJobs = all.filter((j) => j.kind === 'index' && under(other)(j.key));
    const serverJobs = all.filter((j) => j.kind === 'index' && under(watched)(j.key) && j.startedAt !== null);
    assert.equal(cliJobs.length, CLI.length);
    assert.ok(cliJobs.every((j) => j.state === 'done'), JSON.stringify(cliJobs));
    const cliFrom = Math.min(...cliJobs.map((j) => j.startedAt!));
    const cliTo = Math.max(...cliJobs.map((j) => j.finishedAt!));
    const alongside = serverJobs.filter((j) => j.startedAt! < cliTo && (j.finishedAt ?? Infinity) > cliFrom);
    assert.ok(alongside.length > 0, `no job of the followed folder ran while the CLI's ran (${cliFrom}..${cliTo}): ${JSON.stringify(serverJobs.map((j) => [j.startedAt, j.finishedAt]))}`);
    const t0 = Math.min(...serverJobs.map((j) => j.startedAt!));
    const at = (t: number | null) => (t === null ? '…' : ((t - t0) / 1000).toFixed(1));
    // Not queued behind the server's work: the followed folder still had work left when the CLI was done.
    const unfinished = all.filter((j) => j.kind === 'index' && under(watched)(j.key) && (j.state === 'queued' || j.state === 'running' || j.finishedAt! > cli.endedAt));
    assert.ok(unfinished.length > 0, 'the followed folder was still in progress when the CLI finished');
    console.log(`# followed folder's jobs (s): ${serverJobs.map((j) => `${at(j.startedAt)}-${at(j.finishedAt)}`).join(' ')}; the CLI's: ${cliJobs.map((j) => `${at(j.startedAt)}-${at(j.finishedAt)}`).join(' ')} (process ${at(cli.startedAt)}-${at(cli.endedAt)})`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'library-while-indexing-desktop.png'), fullPage: true });

    // The open page shows the CLI's videos, indexed (their pictures load), without a reload.
    const cliNames = CLI.map((c) => `cli-${c}.mp4`);
    await until('the CLI\'s videos shown indexed on the open page', async () => {
      const shown = await shownIndexed(page);
      return cliNames.every((n) => shown.includes(n));
    }, 20_000);
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was reloaded');

    // And the running server finds them: each colour's video first.
    for (const c of CLI) {
      const results = await until(`"${c}" finding cli-${c}.mp4`, async () => {
        const r = await search(c);
        return r.length > 0 && path.basename(r[0].path) === `cli-${c}.mp4` && r;
      }, 15_000);
      assert.equal(path.basename(results[0].path), `cli-${c}.mp4`);
    }
    // In the search page too.
    const sp = await newPage();
    await sp.goto(`${server!.url}/?q=${CLI[1]}`);
    await sp.getByTestId('result-card').first().waitFor();
    assert.equal(await sp.getByTestId('result-card').first().locator('.card-title').innerText(), `cli-${CLI[1]}.mp4`);
    await sp.context().close();

    // The followed folder finishes too, all of it, each file once.
    await until('the followed folder indexed', async () => {
      const l = (await api<{ libraries: Array<{ path: string; videos: { indexed: number; pending: number } }> }>('/api/libraries')).libraries;
      return l[0]?.videos.indexed === WATCHED.length && l[0].videos.pending === 0;
    }, 180_000);
    const indexedWatched = (await jobs()).filter((j) => j.kind === 'index' && j.state === 'done' && under(watched)(j.key));
    assert.equal(new Set(indexedWatched.map((j) => j.key)).size, WATCHED.length);
    assert.equal(indexedWatched.length, WATCHED.length, 'no file of the followed folder indexed twice');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=library-thumb]').length >= n, WATCHED.length + CLI.length, { timeout: 20_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was reloaded');
    await page.context().close();

    for (const [look, opts] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const p = await newPage(opts);
      await p.goto(`${server!.url}/library`);
      await p.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('[data-testid=library-thumb]')].every((i) => i.complete && i.naturalWidth > 0));
      assert.ok(await p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${look}: the page is wider than the viewport`);
      await p.screenshot({ path: path.join(ARTIFACTS, `library-after-cli-${look}.png`), fullPage: true });
      await p.context().close();
    }
  });

  test('a folder added on the Library page is indexed; removing it there (after the confirmation) removes its videos, not its files', { timeout: 120_000 }, async () => {
    const real = fs.realpathSync(added);
    const page = await newPage();
    await page.goto(`${server!.url}/library`);
    await page.getByTestId('libraries').waitFor();
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const form = page.getByTestId('library-add');
    await form.getByLabel('Add a folder').fill(added);
    await form.getByRole('button', { name: 'Add' }).click();
    const row = page.locator(`[data-testid=library-row][data-path="${real}"]`);
    await row.waitFor();
    assert.equal(await form.getByLabel('Add a folder').inputValue(), '', 'the field is cleared once added');

    // The server's worker scans and indexes it; the page shows its videos as they finish.
    await until('the added folder\'s videos shown indexed', async () => {
      const shown = await shownIndexed(page);
      return ADDED.every((c) => shown.includes(`ui-${c}.mp4`));
    }, 60_000);
    await until('the row counting its videos', async () => (await row.innerText()).includes(`${ADDED.length} indexed`), 15_000);
    for (const c of ADDED) {
      await until(`"${c}" finding ui-${c}.mp4`, async () => {
        const r = await search(c);
        return r.length > 0 && path.basename(r[0].path) === `ui-${c}.mp4`;
      }, 15_000);
    }
    for (const [look, opts] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const p = await newPage(opts);
      await p.goto(`${server!.url}/library`);
      await p.getByTestId('libraries').waitFor();
      await p.screenshot({ path: path.join(ARTIFACTS, `library-folders-${look}.png`), fullPage: true });
      await p.context().close();
    }

    // Cancelled: nothing happens.
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await row.getByTestId('library-remove').click();
    await until('the confirmation', async () => asked !== '', 5000);
    assert.match(asked, new RegExp(`Remove ${real.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(asked, new RegExp(`${ADDED.length} videos leave the index`));
    assert.match(asked, /files themselves are not touched/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await row.count(), 1, 'cancelling the confirmation kept the folder');
    assert.equal((await api<{ libraries: unknown[] }>('/api/libraries')).libraries.length, 2);

    // Confirmed: the folder goes, then its videos, from the page and from the index.
    page.once('dialog', (d) => void d.accept());
    await row.getByTestId('library-remove').click();
    await row.waitFor({ state: 'detached' });
    await page.waitForFunction(() => ![...document.querySelectorAll('[data-testid=library-item] .library-name')].some((n) => n.textContent?.startsWith('ui-')), undefined, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was reloaded');
    for (const c of ADDED) {
      await until(`"${c}" no longer finding ui-${c}.mp4`, async () => !(await search(c)).some((r) => under(added)(r.path)), 15_000);
    }
    assert.deepEqual((await api<{ libraries: Array<{ path: string }> }>('/api/libraries')).libraries.map((l) => l.path), [fs.realpathSync(watched)]);
    // The other videos stay, and so do the removed folder's files.
    assert.equal(path.basename((await search(CLI[0]))[0].path), `cli-${CLI[0]}.mp4`);
    for (const c of ADDED) assert.ok(fs.existsSync(path.join(added, `ui-${c}.mp4`)), `ui-${c}.mp4 is still on disk`);
    assert.equal((await shownNames(page)).length, WATCHED.length + CLI.length);
    await page.screenshot({ path: path.join(ARTIFACTS, 'library-after-remove-desktop.png'), fullPage: true });
    await page.context().close();
  });
  test('Ctrl-C on npm start while its worker indexes a file the watcher found: the job is handed back, and everything exits', { timeout: 120_000 }, async () => {
    // Made beside the folder and moved in whole, as a finished download arrives.
    const made = path.join(tempDir('vidsearch-new-'), 'late.mp4');
    await makeColorVideo(made, [{ color: rgb('white'), seconds: 600 }], { width: 320, height: 240, fps: 10 });
    const late = path.join(watched, 'late.mp4');
    fs.renameSync(made, late);
    await until('the watcher queuing the new file and the worker indexing it', async () => (await jobs()).some((j) => j.kind === 'index' && j.state === 'running' && j.key === fs.realpathSync(late)), 60_000);
    // What a terminal does on Ctrl-C: SIGINT to the whole foreground group (npm start passes it on too).
    process.kill(-server!.pgid, 'SIGINT');
    await server!.stop();
    const log = server!.log();
    assert.match(log, /"event":"handed-back"[^\n]*late\.mp4/, log.slice(-2000));
    assert.match(log, /"event":"stopped"/);
    assert.doesNotMatch(log, /the worker exited with code/);
    const running = withDatabaseFile({ databaseUrl: `file:${path.join(home, 'vidsearch.db')}` }, (db) => db.prepare(`SELECT "key" FROM "Job" WHERE "state" = 'running'`).pluck().all());
    assert.deepEqual(running, [], 'no job left running: the next start takes it at once, not after its lease');
  });
});
