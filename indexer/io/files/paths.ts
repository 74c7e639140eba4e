import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The project root holds prisma/migrations and models/. The CLI runs from anywhere (npx), and the
// Next.js server bundles this file elsewhere, so look upward from this module first, then from
// the working directory; VIDSEARCH_ROOT overrides both. Read here, not in services/config.ts, which
// builds its defaults on this root (and would otherwise import itself through this file).
function findRoot(): string {
  if (process.env.VIDSEARCH_ROOT) return path.resolve(process.env.VIDSEARCH_ROOT);
  const starts: string[] = [];
  try {
    starts.push(path.dirname(fileURLToPath(import.meta.url)));
  } catch {
    // not a file: URL (bundled); fall through to cwd
  }
  starts.push(process.cwd());
  for (const start of starts) {
    let dir = start;
    for (;;) {
      if (fs.existsSync(path.join(dir, 'prisma', 'migrations')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return process.cwd();
}

export const PROJECT_ROOT = findRoot();
export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'prisma', 'migrations');
/** the PostgreSQL store's migrations (io/db/postgres/migrate.ts) */
export const PG_MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'prisma', 'postgres');
export const DEFAULT_MODELS_DIR = path.join(PROJECT_ROOT, 'models');
