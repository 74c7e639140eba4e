// `vidsearch doctor` on PostgreSQL: the checks that mean something there. The server keeps its own
// pages and indexes whole (no integrity_check to run, no file to rebuild), so: can the database be
// opened and migrated, does the identity parse, are the vectors the identity's length, and is the
// search ready (pgvector installed, its HNSW index made, every segment's ANN column filled).
// Repairs: damaged vector rows send their video back to pending; the index and the column are
// remade from the stored bytes.
import { errorMessage } from '../core/errors';
import type { StoreIdentity } from '../core/storage';
import { openPgStorage, type PgStorage } from '../io/db/postgres/storage';
import { PgHealth } from '../io/db/postgres/health';
import { EXACT_SEARCH } from '../io/db/postgres/search';
import { redactUrl, type Config } from './config';
import { parseIdentity } from './identity';
import type { CheckName, DoctorProblem, DoctorReport } from './doctor';

const MAX_ROWS = 100;

export async function runPgDoctor(cfg: Pick<Config, 'home' | 'databaseUrl'>, opts: { repair?: boolean } = {}): Promise<DoctorReport> {
  const repair = !!opts.repair;
  const report: DoctorReport = { home: cfg.home, database: redactUrl(cfg.databaseUrl), healthy: true, repair, checks: [], problems: [] };
  const check = (name: CheckName, problems: DoctorProblem[], detail: string) => {
    report.checks.push({ name, ok: problems.every((p) => p.repaired), detail });
    report.problems.push(...problems);
  };
  let storage: PgStorage;
  try {
    storage = await openPgStorage(cfg.databaseUrl, { poolSize: 2 });
  } catch (err) {
    check('database', [{ check: 'database', message: errorMessage(err), repaired: false, advice: 'check DATABASE_URL and that the server is running' }], 'not opened');
    report.healthy = false;
    return report;
  }
  try {
    const c = storage.connection;
    check('database', [], `PostgreSQL ${redactUrl(cfg.databaseUrl)}; migrations in step${c.hasVector ? '' : '; pgvector is not installed'}`);
    let identity: StoreIdentity | undefined;
    const value = await storage.identity.read();
    try {
      identity = value === undefined ? undefined : parseIdentity(value);
      check('identity', [], identity ? `${identity.model.name} (${identity.model.variant}, ${identity.model.dim}-d, ${identity.pooling} pooling)` : 'none recorded');
    } catch (err) {
      check('identity', [{ check: 'identity', message: errorMessage(err), table: 'Setting', row: 'identity', repaired: false, advice: 're-index with `vidsearch index --reindex <folder>`' }], 'damaged');
    }
    if (!identity) {
      check('index', [], 'skipped (no valid identity)');
      return report;
    }
    const health = new PgHealth(c);
    const dim = identity.model.dim;
    const bad = await health.badVectors(dim, MAX_ROWS);
    if (bad.length && repair) await health.resetVideos([...new Set(bad.map((b) => b.videoId))]);
    check(
      'vectors',
      bad.map((b) => ({ check: 'vectors', message: `${b.table} ${b.row} has a ${b.bytes ?? 'missing'}-byte vector, expected ${dim * 4}`, table: b.table, row: b.row, repaired: repair, advice: 'run `vidsearch doctor --repair`, then `vidsearch index <folder>`' })),
      bad.length ? `${bad.length} damaged vector rows` : `every vector is ${dim}-d`,
    );
    if (!c.hasVector) {
      check('index', [], `${EXACT_SEARCH} (fine for small libraries; install pgvector in this database for large ones)`);
      return report;
    }
    const problems: DoctorProblem[] = [];
    if (!(await health.hasIndex(dim))) problems.push({ check: 'index', message: `the HNSW index for ${dim}-d vectors is missing`, repaired: false, advice: 'run `vidsearch doctor --repair`' });
    const missing = await health.missingEmbeddings();
    if (missing) problems.push({ check: 'index', message: `${missing} segments have no pgvector column yet`, repaired: false, advice: 'run `vidsearch doctor --repair`' });
    if (problems.length && repair) {
      await storage.ann.prepare(dim);
      await storage.ann.fillEmbeddings();
      const ok = (await health.hasIndex(dim)) && (await health.missingEmbeddings()) === 0;
      for (const p of problems) p.repaired = ok;
    }
    check('index', problems, `pgvector HNSW over ${dim}-d vectors`);
    return report;
  } finally {
    await storage.close();
    report.healthy = report.problems.every((p) => p.repaired);
  }
}
