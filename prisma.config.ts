// Prisma 6.19 runs fully offline with the JS engine and the better-sqlite3 adapter: no engine
// binary is downloaded at install or run time.
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';

const url = process.env.DATABASE_URL ?? `file:${path.resolve(process.env.VIDSEARCH_HOME ?? 'data', 'vidsearch.db')}`;
// The schema reads env("DATABASE_URL"); without it the CLI falls back to a path that wants a
// downloaded engine, so the default is made explicit here.
process.env.DATABASE_URL = url;

export default defineConfig({
  schema: 'prisma/schema.prisma',
  engine: 'js',
  experimental: { adapter: true },
  async adapter() {
    return new PrismaBetterSQLite3({ url });
  },
});
