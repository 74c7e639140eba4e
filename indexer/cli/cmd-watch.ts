// `vidsearch watch`: keep the index of folders current (the daemon).
import fs from 'node:fs';
import { openEngine } from '../services/engine';
import { UsageError } from '../core/errors';
import { WatchDaemon, lineLogger } from '../services/daemon';
import { CONFIG_GROUP, INDEXING, configFrom, intFlag } from './options';
import { parseCommand, stopSignal, type Command } from './command';

export const watch: Command = {
  name: 'watch',
  summary: ['vidsearch watch <dir>...', 'keep the index of folders current (daemon)'],
  usage: 'Usage: vidsearch watch <dir>... [options]',
  about: `Reconciles each folder with the index (new and changed files queued, files gone removed, unchanged
files skipped without decoding), then watches it. A file is indexed once it has stopped changing;
a renamed or moved file keeps its vectors; a deleted one is removed, one that cannot be seen (an
unreadable folder) is kept. A full disk is retried with backoff. Ctrl-C or SIGTERM stops cleanly.
Logs one line per event (JSON when stderr is not a terminal).`,
  options: [
    {
      // accepted as by every command; the log lines are JSON when stderr is not a terminal
      json: { type: 'boolean', help: '', hidden: true },
      poll: { type: 'boolean', help: 'poll instead of file-system events (network file systems)' },
      'stability-ms': { type: 'string', value: 'N', help: 'how long a file must stay unchanged before indexing', default: '2000' },
      concurrency: { type: 'string', value: 'N', help: 'videos indexed at once', default: '1: inference already uses every core' },
    },
    INDEXING,
  ],
  groups: [CONFIG_GROUP],
  async main(args) {
    const parsed = parseCommand(watch, args);
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    if (positionals.length === 0) throw new UsageError('watch needs at least one folder: vidsearch watch ~/Videos');
    const stabilityMs = intFlag('stability-ms', values['stability-ms'], 0);
    const concurrency = intFlag('concurrency', values.concurrency, 1);
    for (const dir of positionals) {
      if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`not a folder: ${dir}`);
    }
    const engine = await openEngine(configFrom(values), { writer: true });
    const daemon = new WatchDaemon(engine, { dirs: positionals, poll: !!values.poll, stabilityMs, concurrency, log: lineLogger(process.stderr) });
    const stopped = stopSignal();
    try {
      await daemon.start();
      await stopped;
      await daemon.stop();
      return 0;
    } finally {
      await engine.close();
    }
  },
};
