// Which file the server reads for a video (security issue 10, item 2): the stream and thumbnail
// routes serve a video only when it is indexed, its real path (symlinks resolved at serve time)
// lies inside a library root the user gave to `vidsearch index`/`watch`, and its size and mtime are
// still the indexed ones. Real files, symlinks, ffmpeg and the test model; the route handlers are
// called as Next.js calls them (scripts/server.ts serves the stream through the same handler).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../indexer/services/config';
import { openEngine, type OpenEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { TEST_COLORS } from '../indexer/testkit/build';
import { WatchDaemon } from '../indexer/services/daemon';
import { GET as videoDetail } from '../app/api/videos/[id]/route';
import { GET as stream, HEAD as streamHead } from '../app/api/videos/[id]/stream/route';
import { GET as thumbnail } from '../app/api/videos/[id]/thumbnail/route';
import { GET as videos } from '../app/api/videos/route';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { tempDir, testConfig, resetAppEngine, withDatabaseFile } from './helpers';

type Handler = (req: Request, ctx: { params: Promise<{ id: string }> }) => Promise<Response>;

const rgb = (name: string) => TEST_COLORS[name] as RGB;
const SECRET = fs.readFileSync('/etc/passwd');

let cfg: Config;
let lib: string;
let outside: string;
const ids: Record<string, number> = {};
let farSkip: string | undefined;
const files: Record<string, string> = {};


async function call(handler: Handler, id: number, url = `/api/videos/${id}/stream`, method = 'GET'): Promise<Response> {
  return handler(new Request(new URL(url, 'http://localhost'), { method }), { params: Promise.resolve({ id: String(id) }) });
}

/** Status and body of the stream and the thumbnail of a video, asserting neither leaks a secret. */
async function served(id: number, secrets: Buffer[] = [SECRET]): Promise<{ stream: number; thumbnail: number; streamBody: Buffer; error?: string }> {
  const s = await call(stream, id);
  const streamBody = Buffer.from(await s.arrayBuffer());
  const t = await call(thumbnail, id, `/api/videos/${id}/thumbnail`);
  const thumbBody = Buffer.from(await t.arrayBuffer());
  for (const secret of secrets) {
    for (const body of [streamBody, thumbBody]) assert.ok(!body.includes(secret.subarray(0, 64)), `video ${id} leaked bytes of a file outside the library`);
  }
  const error = s.status >= 400 ? JSON.parse(streamBody.toString()).error : undefined;
  return { stream: s.status, thumbnail: t.status, streamBody, error };
}

/** A writer on the data directory, for what `vidsearch index` or a user's edit would change. */
async function withWriter<T>(fn: (engine: OpenEngine) => Promise<T>): Promise<T> {
  const engine = await openEngine(cfg, { writer: true });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/** A copy of `file` at `to` with the same size and mtime: a row pointing there passes every check but the roots'. */
function twin(file: string, to: string): string {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(file, to);
  const st = fs.statSync(file);
  fs.utimesSync(to, st.atime, st.mtime);
  return to;
}

before(async () => {
  const base = tempDir('vidsearch-serve-');
  lib = path.join(base, 'lib');
  outside = path.join(base, 'lib2'); // a sibling whose name extends the root's: not inside it
  fs.mkdirSync(lib);
  fs.mkdirSync(outside);
  for (const name of ['red', 'green', 'blue', 'swapped', 'twin', 'edited', 'touched', 'moved', 'via']) {
    files[name] = path.join(lib, `${name}.mp4`);
    await makeColorVideo(files[name], [{ color: rgb(name in TEST_COLORS ? name : 'white'), seconds: 2 }]);
  }
  // A file that is not a video: recorded as failed (then replaced by a link to /etc/passwd).
  fs.writeFileSync(path.join(lib, 'passwd.mp4'), 'not a video\n');
  // A symlink to a video inside the library: served (its real path is inside the root).
  fs.symlinkSync(files.red, path.join(lib, 'alias.mp4'));
  // A symlinked folder leading out of the library: not followed by indexing, never served.
  fs.mkdirSync(path.join(outside, 'far'));
  await makeColorVideo(path.join(outside, 'far', 'yellow.mp4'), [{ color: rgb('yellow'), seconds: 2 }]);
  fs.symlinkSync(path.join(outside, 'far'), path.join(lib, 'far'));

  cfg = await testConfig();
  await withWriter(async (engine) => {
    const report = await indexTargets(engine, [lib]);
    assert.deepEqual(report.failed.map((f) => path.basename(f.path)), ['passwd.mp4']);
    for (const v of await engine.store.videos()) ids[path.relative(lib, v.path).replace(/\.mp4$/, '')] = v.id;
    farSkip = report.skipped.find((s) => s.path === path.join(lib, 'far'))?.reason;
  });
  // A failed row whose file is then swapped for a link to a secret.
  fs.rmSync(path.join(lib, 'passwd.mp4'));
  fs.symlinkSync('/etc/passwd', path.join(lib, 'passwd.mp4'));
  process.env.VIDSEARCH_HOME = cfg.home;
  process.env.VIDSEARCH_MODEL = cfg.model;
  process.env.VIDSEARCH_THREADS = '1';
});

after(resetAppEngine);

describe('the stream and thumbnails serve library files only', () => {
  test('an unchanged indexed video: 200, its bytes, and a JPEG', async () => {
    const r = await served(ids.green);
    assert.deepEqual([r.stream, r.thumbnail], [200, 200]);
    assert.ok(r.streamBody.equals(fs.readFileSync(files.green)));
    const head = await call(streamHead, ids.green, '/x', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(fs.statSync(files.green).size));
  });

  test('a symlink in the library to /etc/passwd (recorded as failed): 404, never its bytes', async () => {
    const r = await served(ids.passwd);
    assert.deepEqual([r.stream, r.thumbnail], [404, 404]);
    assert.match(r.error!, /failed.*only indexed videos are served/);
  });

  test('an indexed file replaced by a symlink to a file outside: 404, no byte of it', async () => {
    // First an exact twin (same size and mtime) outside the library: only the roots tell it apart.
    const copy = twin(files.swapped, path.join(outside, 'swapped.mp4'));
    fs.rmSync(files.swapped);
    fs.symlinkSync(copy, files.swapped);
    let r = await served(ids.swapped, [SECRET, fs.readFileSync(copy)]);
    assert.deepEqual([r.stream, r.thumbnail], [404, 404]);
    assert.match(r.error!, /not inside a library folder/);
    assert.ok(!r.error!.includes(outside), 'the message does not reveal where the link leads');
    // Then /etc/passwd itself.
    fs.rmSync(files.swapped);
    fs.symlinkSync('/etc/passwd', files.swapped);
    r = await served(ids.swapped);
    assert.deepEqual([r.stream, r.thumbnail], [404, 404]);
  });

  test('a symlinked folder leading out of the library: not followed when indexing; a row reached through it is not served', async () => {
    assert.equal(ids['far/yellow'], undefined, 'indexing did not walk into the symlinked folder');
    assert.match(farSkip ?? '', /symbolic link to .*far, outside the library folder .*lib: not followed/);
    // A row that reaches the folder through the link, as an index made before links were checked has.
    const yellow = path.join(lib, 'far', 'yellow.mp4');
    const st = fs.statSync(yellow);
    await withWriter(async () => withDatabaseFile(cfg, (db) => db.prepare('UPDATE "Video" SET "path" = ?, "size" = ?, "mtimeMs" = ? WHERE "id" = ?').run(yellow, st.size, Math.floor(st.mtimeMs), ids.via)));
    const r = await served(ids.via, [fs.readFileSync(yellow)]);
    assert.deepEqual([r.stream, r.thumbnail], [404, 404]);
    // The next index removes it (see the test of a data directory without roots, which re-indexes).
  });

  test('a row pointing outside every root (a path edited; /lib2 is not inside /lib): 404', async () => {
    const copy = twin(files.twin, path.join(outside, 'twin.mp4'));
    await withWriter(async () => withDatabaseFile(cfg, (db) => db.prepare('UPDATE "Video" SET "path" = ? WHERE "id" = ?').run(copy, ids.twin)));
    const r = await served(ids.twin, [fs.readFileSync(copy)]);
    assert.deepEqual([r.stream, r.thumbnail], [404, 404]);
  });

  test('a root taken out of the recorded roots: its videos are not served', async () => {
    const roots = await withWriter((engine) => engine.store.setting('libraryRoots'));
    assert.deepEqual(JSON.parse(roots!), [fs.realpathSync(lib)], 'indexing recorded the folder it was given, as a real path');
    await withWriter((engine) => engine.store.setSetting('libraryRoots', JSON.stringify([fs.realpathSync(outside)])));
    try {
      const r = await served(ids.blue);
      assert.deepEqual([r.stream, r.thumbnail], [404, 404]);
    } finally {
      await withWriter((engine) => engine.store.setSetting('libraryRoots', roots!));
    }
    assert.equal((await served(ids.blue)).stream, 200);
  });

  test('an indexed file modified since (size, or only mtime): 409 that says so', async () => {
    fs.appendFileSync(files.edited, 'more bytes');
    const touched = new Date(fs.statSync(files.touched).mtimeMs + 5000);
    fs.utimesSync(files.touched, touched, touched);
    for (const id of [ids.edited, ids.touched]) {
      const r = await served(id);
      assert.deepEqual([r.stream, r.thumbnail], [409, 409], `video ${id}`);
      assert.match(r.error!, /changed since it was indexed.*vidsearch index/);
    }
  });

  test('a file gone from disk: 404', async () => {
    fs.rmSync(files.moved);
    const r = await served(ids.moved);
    assert.deepEqual([r.stream, r.thumbnail], [404, 404]);
    assert.match(r.error!, /gone from disk/);
  });

  test('a symlink to a video inside the library is served: its real path is inside the root', async () => {
    const r = await served(ids.alias);
    assert.deepEqual([r.stream, r.thumbnail], [200, 200]);
    assert.ok(r.streamBody.equals(fs.readFileSync(files.red)));
  });

  test('the API says what is wrong with each file (fileState)', async () => {
    const res = await videos(new Request('http://localhost/api/videos'), { params: Promise.resolve({ id: '' }) });
    const body = await res.json();
    const state = Object.fromEntries(body.videos.map((v: { id: number; fileState: string }) => [v.id, v.fileState]));
    assert.deepEqual(
      { green: state[ids.green], alias: state[ids.alias], passwd: state[ids.passwd], swapped: state[ids.swapped], far: state[ids.via], twin: state[ids.twin], edited: state[ids.edited], touched: state[ids.touched], moved: state[ids.moved] },
      { green: 'ok', alias: 'ok', passwd: 'outside', swapped: 'outside', far: 'outside', twin: 'outside', edited: 'changed', touched: 'changed', moved: 'missing' },
    );
    const one = await (await call(videoDetail, ids.edited, `/api/videos/${ids.edited}`)).json();
    assert.equal(one.fileState, 'changed');
  });

  test('a data directory indexed before roots were recorded: 409 telling to run `vidsearch index` once; indexing again fixes it', async () => {
    await withWriter(async () => withDatabaseFile(cfg, (db) => db.prepare(`DELETE FROM "Setting" WHERE "key" = 'libraryRoots'`).run()));
    const r = await served(ids.green);
    assert.deepEqual([r.stream, r.thumbnail], [409, 409]);
    assert.match(r.error!, /no library folders recorded.*vidsearch index <folder>/);
    const report = await withWriter((engine) => indexTargets(engine, [lib]));
    assert.ok(report.skipped.some((s) => s.path === files.green && s.reason === 'unchanged'), 'unchanged files are not decoded again');
    assert.equal((await served(ids.green)).stream, 200);
    // Rows whose files now lead out of the library through a link (swapped for one since, or reached
    // through a linked folder by an older index) are not library files: they leave the index.
    assert.deepEqual(report.removed.map((p) => path.relative(lib, p.path)).sort(), ['far/yellow.mp4', 'passwd.mp4', 'swapped.mp4']);
    assert.ok(fs.existsSync(path.join(lib, 'far', 'yellow.mp4')), 'the files themselves are left alone');
  });

  test('`vidsearch watch` records its folders as roots too', async () => {
    const watched = tempDir('vidsearch-watched-');
    await withWriter(async (engine) => {
      const daemon = new WatchDaemon(engine, { dirs: [watched], stabilityMs: 200 });
      await daemon.start();
      await daemon.stop();
      assert.ok(JSON.parse((await engine.store.setting('libraryRoots'))!).includes(fs.realpathSync(watched)));
    });
  });
});
