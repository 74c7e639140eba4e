// The PostgreSQL I/O boundary: one `pg` pool per process and database URL, with the committed
// migrations (prisma/postgres/) applied on first open. Plain SQL, not Prisma: Prisma 6.19's
// `migrate deploy` fails against Postgres with the pg adapter (prisma/orm#27403), and every query
// the repositories run (SKIP LOCKED claims, pgvector's `<#>`, SET LOCAL hnsw.ef_search) is
// hand-written SQL anyway.
import pg from 'pg';
import { StoreError, errorMessage } from '../../../core/errors';
import { redactUrl } from '../../../services/config';
import { migratePostgres, type MigrateResult } from './migrate';

export type PgClient = pg.PoolClient;

// Big enough for a web server's concurrent searches and a worker's writes; Postgres' default
// max_connections (100) leaves room for tens of processes.
const POOL_SIZE = 8;

export class PgConnection {
  private constructor(
    readonly pool: pg.Pool,
    readonly url: string,
    /** what opening found and did: migrations applied, and those skipped because pgvector is missing */
    readonly migrations: MigrateResult,
  ) {}

  /** Connects and applies the pending migrations (safe when many processes start at once). */
  static async open(url: string, opts: { poolSize?: number } = {}): Promise<PgConnection> {
    const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? POOL_SIZE });
    // An idle client that the server drops (a restart) must not crash the process: the pool
    // replaces it, and the next query reports the failure to its caller.
    pool.on('error', () => {});
    try {
      const migrations = await migratePostgres(pool);
      return new PgConnection(pool, url, migrations);
    } catch (err) {
      await pool.end().catch(() => {});
      if (err instanceof StoreError) throw err;
      throw new StoreError(`cannot open the PostgreSQL database ${redactUrl(url)}: ${errorMessage(err)} (check DATABASE_URL and that the server is running)`, {
        cause: { url: redactUrl(url) },
      });
    }
  }

  /** whether pgvector is installed in this database (its migration applied): the ANN search path */
  get hasVector(): boolean {
    return !this.migrations.skipped.length;
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(sql, params as unknown[]);
  }

  /** `work` inside one transaction on one client: committed when it resolves, rolled back when it throws. */
  async transaction<T>(work: (client: PgClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {}); // the connection may be gone: the server rolls back
      throw err;
    } finally {
      client.release();
    }
  }

  /** Ends the pool: a CLI command otherwise lingers ~10 s at exit waiting for idle clients. */
  close(): Promise<void> {
    return this.pool.end();
  }
}
