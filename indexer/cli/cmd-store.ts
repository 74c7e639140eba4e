// `vidsearch store copy`: a library from one store to another (services/store-copy.ts).
import { UsageError } from '../core/errors';
import { copyStore } from '../services/store-copy';
import { err, out, parseCommand, type Command } from './command';

export const storeCommand: Command = {
  name: 'store',
  summary: ['vidsearch store copy --from A --to B', 'move a library between SQLite and PostgreSQL'],
  usage: 'Usage: vidsearch store copy --from <data dir | file: URL | postgresql:// URL> --to <same> [--no-libraries] [--json]',
  about: `Copies a library (videos, segments with their frame packs, frames, tags, the model identity and
settings, and the library folders) from one store to another, either way between SQLite and
PostgreSQL, without decoding or encoding a frame: vectors move as stored. The target must be empty.
Then checks the copy: every table's row count, and the nearest segments of sample segment vectors
searched on both stores (HNSW file or pgvector). Exit 0 when both agree, 1 otherwise. Stop writers
to the source first: rows written during the copy may be missed.`,
  options: [
    {
      from: { type: 'string', value: 'STORE', help: 'the store to read: a data directory (its vidsearch.db), a SQLite file: URL, or a postgresql:// URL' },
      to: { type: 'string', value: 'STORE', help: 'the empty store to write, named the same ways' },
      'no-libraries': { type: 'boolean', help: 'leave the library folders (Library rows) out: the target machine mounts them elsewhere' },
      json: { type: 'boolean', help: 'print the report {"from","to","tables","search","verified","seconds"} on stdout' },
    },
  ],
  async main(args) {
    const parsed = parseCommand(storeCommand, args);
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    if (positionals[0] !== 'copy' || positionals.length > 1) throw new UsageError('store takes one subcommand: vidsearch store copy --from <store> --to <store>');
    if (typeof values.from !== 'string' || typeof values.to !== 'string') throw new UsageError('store copy needs --from and --to');
    let last = '';
    const report = await copyStore(values.from, values.to, {
      libraries: !values['no-libraries'],
      onProgress: (table, done, total) => {
        const line = `${table} ${done}/${total}`;
        if (line !== last) err(`copy ${line}`);
        last = line;
      },
    });
    if (values.json) out(JSON.stringify(report, null, 2));
    else {
      out(`copied ${report.from} → ${report.to} in ${report.seconds.toFixed(1)} s`);
      for (const t of report.tables) out(`  ${t.table.padEnd(8)} ${t.from} → ${t.to}${t.from === t.to ? '' : '  MISMATCH'}`);
      const same = report.search.filter((s) => s.sameScores).length;
      out(`  search   ${same}/${report.search.length} sample segment queries give the same top scores on both stores${report.search.length ? ` (ids shared: ${report.search.map((s) => s.sharedIds).join(', ')} of 10)` : ''}`);
      out(report.verified ? 'verified: the copy holds the same library' : 'NOT verified: the copy differs (see above)');
    }
    return report.verified ? 0 : 1;
  },
};
