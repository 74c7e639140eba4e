// Bench part "pgvector": search over the PostgreSQL store's ANN index (pgvector HNSW on
// Segment."embedding") beside the SQLite store's hnswlib index, on the same clustered 512-d
// vectors in the same run: p50/p99 and recall@10 against exact search, pgvector at ef_search
// 100/200/400. Issue 15's target: recall@10 ≥ 0.95 at 1,000,000 with p50 under 50 ms.
// The server: a PGlite (`vidsearch postgres-dev`, single-threaded WebAssembly: 100,000 is as far
// as it builds in minutes) unless --pg-url names a real Postgres with pgvector; the table says
// which. The PGlite data is kept in data/bench, so a second run skips the build.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PgConnection } from '../indexer/io/db/postgres/connection';
import { startDevPostgres, type DevPostgres } from '../indexer/io/db/postgres/dev-server';
import { PgVectorSearch, hnswIndexName } from '../indexer/io/db/postgres/search';
import { SegmentIndex } from '../indexer/io/ann/ann';
import { DIM, exactTopK, SyntheticLibrary } from './synthetic';
import { median, quantile, round } from './util';

export interface PgvectorRow {
  engine: string;
  ef: number | null;
  p50Ms: number;
  p99Ms: number;
  recallAt10: number;
}

export interface PgvectorBench {
  segments: number;
  server: string;
  buildS: number | null;
  rows: PgvectorRow[];
}

// v2: the store's own index (m 16, ef_construction 200: core/hnsw.ts)
const BENCH_STAMP = 'pgvector-bench-v2';
const SEGMENTS_PER_VIDEO = 100;
const EFS = [100, 200, 400];

const literal = (v: Float32Array) => `[${Array.from(v).join(',')}]`;
const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

export async function pgvectorBench(opts: { segments: number; pgUrl?: string; benchDir: string; log: (s: string) => void }): Promise<PgvectorBench> {
  const { segments, log } = opts;
  const lib = new SyntheticLibrary({ segments, segmentsPerVideo: SEGMENTS_PER_VIDEO, seed: 44 });
  const vectors = lib.segmentVectors();
  let dev: DevPostgres | undefined;
  if (!opts.pgUrl) dev = await startDevPostgres({ port: 0, dir: path.join(opts.benchDir, `pglite-${segments}`) });
  const url = opts.pgUrl ?? dev!.url;
  // One connection: the session settings (maintenance_work_mem) reach the index build.
  const conn = await PgConnection.open(url, { poolSize: 1 });
  let buildS: number | null = null;
  const ann = new PgVectorSearch(conn);
  try {
    if (!conn.hasVector) throw new Error(`the server at ${url} has no pgvector`);
    const server = dev ? `PGlite ${(await conn.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version} (WebAssembly, single session)` : `PostgreSQL ${(await conn.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version} at --pg-url`;
    const stamp = `${BENCH_STAMP}:${segments}`;
    const have = (await conn.query<{ value: string }>(`SELECT "value" FROM "Setting" WHERE "key" = 'bench'`)).rows[0]?.value;
    if (have !== stamp) {
      if ((await conn.query(`SELECT 1 FROM "Video" WHERE "path" NOT LIKE '/bench/%' LIMIT 1`)).rowCount) {
        throw new Error(`the database at --pg-url holds a library: give the bench an empty database`);
      }
      log(`pgvector: writing ${segments} segments into ${server}`);
      const t = performance.now();
      await conn.query(`DELETE FROM "Video" WHERE "path" LIKE '/bench/%'`);
      await conn.query(`DROP INDEX IF EXISTS "Segment_embedding_bench"`);
      await conn.query(`DROP INDEX IF EXISTS "${hnswIndexName(DIM)}"`);
      const videos = Math.ceil(segments / SEGMENTS_PER_VIDEO);
      for (let v = 0; v < videos; v += 1000) {
        const ids = Array.from({ length: Math.min(1000, videos - v) }, (_, i) => v + i + 1);
        await conn.query(
          `INSERT INTO "Video" ("id", "path", "size", "mtimeMs", "status", "segmentCount") SELECT id, '/bench/' || id || '.mp4', 0, 0, 'indexed', ${SEGMENTS_PER_VIDEO} FROM unnest($1::int[]) AS id`,
          [ids],
        );
      }
      const BATCH = 250;
      for (let i = 0; i < segments; i += BATCH) {
        const params: unknown[] = [];
        const rows: string[] = [];
        for (let r = i; r < Math.min(segments, i + BATCH); r++) {
          const v = vectors.subarray(r * DIM, (r + 1) * DIM);
          const p = params.length;
          rows.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, 10, $${p + 6}, $${p + 7}::vector)`);
          params.push(r + 1, Math.floor(r / SEGMENTS_PER_VIDEO) + 1, r % SEGMENTS_PER_VIDEO, (r % SEGMENTS_PER_VIDEO) * 10, (r % SEGMENTS_PER_VIDEO) * 10 + 10, bytes(v), literal(v));
        }
        await conn.query(`INSERT INTO "Segment" ("id", "videoId", "idx", "start", "end", "frameCount", "vector", "embedding") VALUES ${rows.join(',')}`, params);
        if ((i / BATCH) % 40 === 0) log(`pgvector: ${i}/${segments} segments written`);
      }
      log(`pgvector: building the HNSW index`);
      await conn.query(`SET maintenance_work_mem = '512MB'`).catch(() => {}); // a managed server may refuse: its default then
      // The index the store makes when a library's model is recorded, with its parameters.
      await ann.prepare(DIM);
      await conn.query(`INSERT INTO "Setting" ("key", "value") VALUES ('bench', $1) ON CONFLICT ("key") DO UPDATE SET "value" = $1`, [stamp]);
      buildS = round((performance.now() - t) / 1000, 1);
      log(`pgvector: written and indexed in ${buildS} s`);
    }

    const qs = lib.queries(200, 99);
    const truth = qs.map((q) => new Set(Array.from(exactTopK(vectors, q, 10), (r) => r + 1)));
    const recall = (hits: number[][]) => round(hits.reduce((s, h, i) => s + h.slice(0, 10).filter((id) => truth[i]!.has(id)).length, 0) / (10 * qs.length), 4);
    const rows: PgvectorRow[] = [];
    // Warm the server's buffers and the connections first: the first ef would pay for them.
    for (const q of qs.slice(0, 20)) await conn.query(`SELECT "id" FROM "Segment" ORDER BY "embedding"::vector(${DIM}) <#> $1::vector LIMIT 10`, [literal(q)]);
    for (const ef of EFS) {
      const times: number[] = [];
      const hits: number[][] = [];
      for (const q of qs) {
        const t = performance.now();
        const found = await conn.transaction(async (c) => {
          await c.query(`SET LOCAL hnsw.ef_search = ${ef}`);
          return (await c.query<{ id: number }>(`SELECT "id" FROM "Segment" ORDER BY "embedding"::vector(${DIM}) <#> $1::vector LIMIT 10`, [literal(q)])).rows.map((r) => r.id);
        });
        times.push(performance.now() - t);
        hits.push(found);
      }
      rows.push({ engine: 'pgvector', ef, p50Ms: round(median(times), 2), p99Ms: round(quantile(times, 0.99), 2), recallAt10: recall(hits) });
      log(`pgvector ef ${ef}: p50 ${rows.at(-1)!.p50Ms} ms, recall@10 ${rows.at(-1)!.recallAt10}`);
    }

    {
      // The store's own search: ef_search as core/hnsw.ts sets it for this size.
      const times: number[] = [];
      const hits: number[][] = [];
      for (const q of qs) {
        const t = performance.now();
        hits.push((await ann.search(q, 10)).map((h) => h.id));
        times.push(performance.now() - t);
      }
      rows.push({ engine: 'pgvector (the store\'s search)', ef: null, p50Ms: round(median(times), 2), p99Ms: round(quantile(times, 0.99), 2), recallAt10: recall(hits) });
    }

    // The SQLite store's path on the same vectors: hnswlib with the ef the store uses at this size.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-bench-pgv-'));
    try {
      const ann = new SegmentIndex(home, DIM);
      ann.reset(segments + 16);
      for (let r = 0; r < segments; r++) ann.add(r + 1, vectors.subarray(r * DIM, (r + 1) * DIM));
      const times: number[] = [];
      const hits = qs.map((q) => {
        const t = performance.now();
        const h = ann.search(q, 10).map((x) => x.id);
        times.push(performance.now() - t);
        return h;
      });
      rows.push({ engine: 'hnswlib (SQLite store)', ef: null, p50Ms: round(median(times), 3), p99Ms: round(quantile(times, 0.99), 3), recallAt10: recall(hits) });
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
    return { segments, server, buildS, rows };
  } finally {
    await conn.close();
    await dev?.stop();
  }
}
