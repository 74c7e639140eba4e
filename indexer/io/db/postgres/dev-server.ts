// `vidsearch postgres-dev`: a local PostgreSQL with pgvector for trying the PostgreSQL store, and
// for tests, without installing a server: PGlite (Postgres in WebAssembly) served over TCP.
// Not for production: PGlite runs every connection through one backend session, one statement at
// a time, single-threaded (building an HNSW index over 20,000 vectors takes minutes). Production
// is a Postgres 15+ with pgvector (README, "PostgreSQL").
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { StoreError, errorMessage } from '../../../core/errors';
import { BatchingQueue } from './dev-queue';

export interface DevPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** `dir`: where the data lives (kept between runs); none: in memory, gone at stop. */
export async function startDevPostgres(opts: { port?: number; host?: string; dir?: string } = {}): Promise<DevPostgres> {
  const host = opts.host ?? '127.0.0.1';
  // Loaded here: a WebAssembly Postgres is 30 MB of code no other command needs.
  const [{ PGlite }, { vector }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-pgvector'),
    import('@electric-sql/pglite-socket'),
  ]);
  if (opts.dir) fs.mkdirSync(opts.dir, { recursive: true });
  let db: InstanceType<typeof PGlite>;
  try {
    db = await PGlite.create({ ...(opts.dir ? { dataDir: opts.dir } : {}), extensions: { vector } });
  } catch (err) {
    throw new StoreError(`cannot open the PGlite data in ${opts.dir ?? '(memory)'}: ${errorMessage(err)}`, { cause: { dir: opts.dir } });
  }
  const server = new PGLiteSocketServer({ db, host, port: opts.port ?? 5432, maxConnections: 16 });
  // Each connection's extended-protocol batch runs whole (dev-queue.ts); handlers take the
  // server's queue when they are made, so replacing it before start() reaches every connection.
  (server as unknown as { queryQueue: BatchingQueue }).queryQueue = new BatchingQueue(db as unknown as ConstructorParameters<typeof BatchingQueue>[0]);
  try {
    await server.start();
  } catch (err) {
    await db.close().catch(() => {});
    const code = (err as NodeJS.ErrnoException).code;
    throw new StoreError(
      code === 'EADDRINUSE' ? `port ${opts.port ?? 5432} is in use: pick another with --port` : `cannot serve PGlite on ${host}:${opts.port ?? 5432}: ${errorMessage(err)}`,
      { cause: { port: opts.port, code } },
    );
  }
  const port = ((server as unknown as { server?: { address(): AddressInfo | null } }).server?.address()?.port ?? opts.port ?? 5432) as number;
  return {
    url: `postgresql://postgres@${host}:${port}/postgres`,
    port,
    async stop() {
      await server.stop().catch(() => {});
      await db.close().catch(() => {});
    },
  };
}
