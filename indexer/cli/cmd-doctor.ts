// `vidsearch doctor`: the data directory's health (services/doctor.ts); exit 0 healthy, 1 problems
// found or an error, 2 usage.
import { isDatabaseDamage } from '../core/errors';
import { runDoctor } from '../services/doctor';
import { CONFIG_GROUP, configFrom, json } from './options';
import { out, parseCommand, type Command } from './command';

export const doctor: Command = {
  name: 'doctor',
  summary: ['vidsearch doctor [--repair]', 'check the data directory for damage; repair what can be rebuilt'],
  usage: 'Usage: vidsearch doctor [--repair] [--json]',
  about: `Checks the data directory for damage that indexing and search do not notice:
  database   SQLite's PRAGMA integrity_check of every page and index
  identity   the recorded model identity parses and is complete
  vectors    every segment, frame and video vector has the model's byte length (table and row named)
  index      the HNSW file matches its checksum and holds exactly the database's segment ids
  files      orphan files: old or temporary index files, thumbnails of videos no longer indexed`,
  options: [
    {
      repair: {
        type: 'boolean',
        help: 'repair what can be rebuilt from the database: REINDEX damaged SQLite indexes, rebuild the HNSW file, delete orphan files, and send videos with damaged vector rows back to pending (the next `vidsearch index <folder>` re-indexes them). Takes the writer lock; never touches your video files.',
      },
      ...json('{"healthy","checks":[...],"problems":[...]}'),
    },
  ],
  groups: [CONFIG_GROUP],
  positionals: false,
  footer: 'Exit status: 0 healthy (or everything found was repaired), 1 problems remain, 2 usage error.',
  async main(args) {
    const parsed = parseCommand(doctor, args);
    if (!parsed) return 0;
    const { values } = parsed;
    const cfg = configFrom(values);
    const report = await runDoctor(cfg, { repair: !!values.repair });
    if (values.json) {
      out(JSON.stringify(report, null, 2));
      return report.healthy ? 0 : 1;
    }
    out(`data directory  ${report.home}`);
    for (const c of report.checks) {
      out(`${(c.ok ? 'ok' : 'PROBLEM').padEnd(8)} ${c.name.padEnd(9)} ${c.detail}`);
      for (const p of report.problems.filter((x) => x.check === c.name)) {
        out(`         ${p.repaired ? 'repaired: ' : ''}${p.message}`);
        if (!p.repaired && p.advice) out(`           → ${p.advice}`);
      }
    }
    const left = report.problems.filter((p) => !p.repaired).length;
    const fixed = report.problems.length - left;
    if (report.problems.length === 0) out('healthy');
    else if (left === 0) out(`repaired ${fixed} problem${fixed === 1 ? '' : 's'}; healthy`);
    else out(`${left} problem${left === 1 ? '' : 's'} found${fixed ? ` (${fixed} repaired)` : ''}${report.repair ? '' : ': run `vidsearch doctor --repair` to repair what can be repaired'}`);
    return left ? 1 : 0;
  },
};

/** For any command's error: a damaged database (isDatabaseDamage), and the command that checks it. */
export function damageHint(e: unknown): string | undefined {
  return isDatabaseDamage(e)
    ? 'the database looks damaged: run `vidsearch doctor` to see where, and `vidsearch doctor --repair` to rebuild what can be rebuilt'
    : undefined;
}
