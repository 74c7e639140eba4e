// `vidsearch postgres-dev`: a local PostgreSQL with pgvector (PGlite over TCP, io/db/postgres/dev-server.ts)
// for trying the PostgreSQL store and for tests, without installing a server. Not for production.
import path from 'node:path';
import { intFlag } from './options';
import { err, out, parseCommand, stopSignal, type Command } from './command';
import { startDevPostgres } from '../io/db/postgres/dev-server';

export const postgresDev: Command = {
  name: 'postgres-dev',
  summary: ['vidsearch postgres-dev', 'a local PostgreSQL + pgvector to try the PostgreSQL store'],
  usage: 'Usage: vidsearch postgres-dev [--port 5432] [--dir <data>]',
  about: `Serves PostgreSQL with pgvector on 127.0.0.1 (PGlite: Postgres compiled to WebAssembly, in this
process) and prints the DATABASE_URL that points vidsearch at it. For trying the PostgreSQL store and
for tests, not for production: PGlite runs every connection through one session, one statement at a
time, on one core. Production is a PostgreSQL 15+ server with pgvector. Runs until Ctrl-C or SIGTERM.`,
  options: [
    {
      port: { type: 'string', value: 'N', help: 'TCP port on 127.0.0.1 (0: any free one)', default: '5432' },
      dir: { type: 'string', value: 'DIR', help: 'where the data is kept between runs', default: 'in memory, gone at exit' },
    },
  ],
  positionals: false,
  async main(args) {
    const parsed = parseCommand(postgresDev, args);
    if (!parsed) return 0;
    const { values } = parsed;
    const port = intFlag('port', values.port, 0) ?? 5432;
    const dir = values.dir === undefined ? undefined : path.resolve(String(values.dir));
    const stopped = stopSignal();
    const server = await startDevPostgres({ port, dir });
    try {
      out(`DATABASE_URL=${server.url}`);
      err(`vidsearch: PostgreSQL with pgvector (PGlite) on 127.0.0.1:${server.port}, data ${dir ?? 'in memory (gone at exit)'}`);
      err('vidsearch: for trying the PostgreSQL store and for tests, not for production (one session, one core); Ctrl-C stops it');
      await stopped;
      return 0;
    } finally {
      await server.stop();
      err('vidsearch: postgres-dev stopped');
    }
  },
};
