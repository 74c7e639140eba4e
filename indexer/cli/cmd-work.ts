// `vidsearch worker` (runs jobs from the queue until stopped) and `vidsearch library`
// (add | remove | list | scan | watch | unwatch the followed folders). The work itself is in
// services/worker.ts and services/libraries.ts; this is flags, output and exit codes.
import { UsageError, errorKind, errorMessage } from '../core/errors';
import { lineLogger } from '../services/daemon';
import { openEngine } from '../services/engine';
import { addLibrary, listLibraries, openWork, removeLibrary, scanLibrary, setWatching, type LibraryView } from '../services/libraries';
import { LibraryWatch } from '../services/library-watch';
import { runWorker } from '../services/worker';
import { Store } from '../io/db/store';
import { CONFIG_GROUP, INDEXING, configFrom, intFlag, json } from './options';
import { out, parseCommand, type Command } from './command';

export const library: Command = {
  name: 'library',
  summary: ['vidsearch library add <dir>', 'the folders vidsearch follows (also remove, list, scan)'],
  usage: `Usage: vidsearch library add <dir> [--poll] [--no-watch]
       vidsearch library remove <dir|id>
       vidsearch library list [--json]
       vidsearch library scan <dir|id> [--retry-failed]
       vidsearch library watch|unwatch <dir|id> [--poll]`,
  about: `The folders vidsearch follows. Adding one queues its scan; a worker (\`npm start\` runs one, or
\`vidsearch worker\`) indexes it and keeps it current. Removing one removes its videos from the
index; the files are never touched.`,
  options: [
    {
      ...json('the result as JSON'),
      poll: { type: 'boolean', help: 'watch by polling (network shares, where file events do not arrive)' },
      'no-watch': { type: 'boolean', help: 'add without watching (scans only when asked)' },
      'retry-failed': { type: 'boolean', help: 'scan: also try the files that failed before' },
    },
  ],
  groups: [CONFIG_GROUP],
  main: (args) => cmdLibrary(args),
};

export const worker: Command = {
  name: 'worker',
  summary: ['vidsearch worker', 'run queued jobs (index, remove, scan) and watch the libraries'],
  usage: 'Usage: vidsearch worker [--concurrency N] [--no-watch] [--stability-ms N] [options]',
  about: `Runs jobs from the data directory's queue until stopped (Ctrl-C or SIGTERM: the job in progress
is handed back untouched, and the worker exits 0). Any number of workers may run on one data
directory; a worker that dies loses its job to another once its lease (30 s) has passed.`,
  options: [
    {
      concurrency: { type: 'string', value: 'N', help: 'jobs at once', default: '1: inference already uses every core' },
      'no-watch': { type: 'boolean', help: 'do not watch the libraries (another process does): only run jobs' },
      'stability-ms': { type: 'string', value: 'N', help: 'with watching: how long a file must stay unchanged before it is queued', default: '2000' },
    },
    INDEXING,
  ],
  groups: [CONFIG_GROUP],
  positionals: false,
  main: (args) => cmdWorker(args),
};

function ref(arg: string | undefined, usage: string): number | string {
  if (!arg) throw new UsageError(usage);
  return /^\d+$/.test(arg) ? Number(arg) : arg;
}

function describe(l: LibraryView): string {
  const todo = l.queued + l.running;
  return `${l.id}. ${l.path}\n   ${l.videos.indexed} indexed, ${l.videos.failed} failed, ${l.videos.pending} pending${todo ? `, ${todo} jobs to do` : ''}${l.failedJobs ? `, ${l.failedJobs} failed jobs` : ''} · ${l.watch ? `watching (${l.mode})` : 'not watching'}${l.lastScanAt ? ` · scanned ${l.lastScanAt.toISOString()}` : ''}`;
}

async function cmdLibrary(args: string[]): Promise<number> {
  const parsed = parseCommand(library, args);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const [action, target] = positionals;
  if (!action) throw new UsageError('library needs an action: add, remove, list, scan, watch or unwatch');
  const cfg = configFrom(values);
  const work = await openWork(cfg);
  const store = await Store.open(cfg, { writer: true });
  try {
    const ctx = { ...work, store };
    if (action === 'list') {
      const libs = await listLibraries(ctx);
      if (values.json) out(JSON.stringify({ libraries: libs }, null, 2));
      else out(libs.length ? libs.map(describe).join('\n') : 'no libraries yet: vidsearch library add ~/Videos');
      return 0;
    }
    if (action === 'add') {
      if (!target) throw new UsageError('library add needs a folder: vidsearch library add ~/Videos');
      const r = await addLibrary(ctx, target, { watch: !values['no-watch'], mode: values.poll ? 'poll' : undefined });
      out(values.json ? JSON.stringify(r, null, 2) : `${r.created ? 'added' : 'already a library:'} ${r.library.path}; scan queued (job ${r.scanJob}): a worker indexes it (\`npm start\` runs one, or \`vidsearch worker\`)`);
      return 0;
    }
    if (action === 'remove') {
      const r = await removeLibrary(ctx, ref(target, 'library remove needs a folder or a library id'));
      out(values.json ? JSON.stringify(r, null, 2) : `removed ${r.library.path}: its ${r.removedVideos} videos leave the index as a worker gets to them (the files are untouched)`);
      return 0;
    }
    if (action === 'scan') {
      const job = await scanLibrary(ctx, ref(target, 'library scan needs a folder or a library id'), { retryFailed: !!values['retry-failed'] });
      out(values.json ? JSON.stringify({ job }) : `scan queued (job ${job})`);
      return 0;
    }
    if (action === 'watch' || action === 'unwatch') {
      const lib = await setWatching(ctx, ref(target, `library ${action} needs a folder or a library id`), { watch: action === 'watch', mode: values.poll ? 'poll' : undefined });
      out(`${lib.path}: ${lib.watch ? 'watching' : 'not watching'}`);
      return 0;
    }
    throw new UsageError(`unknown library action "${action}": add, remove, list, scan, watch or unwatch`);
  } finally {
    await store.close();
    await work.close();
  }
}

/** how long after a stop signal its duplicates (terminal and npm start, milliseconds apart) are waited for */
const DUPLICATE_SIGNAL_MS = 300;

async function cmdWorker(args: string[]): Promise<number> {
  const parsed = parseCommand(worker, args);
  if (!parsed) return 0;
  const { values } = parsed;
  const concurrency = intFlag('concurrency', values.concurrency, 1);
  const stabilityMs = intFlag('stability-ms', values['stability-ms'], 0);
  const cfg = configFrom(values);
  const log = lineLogger(process.stderr);
  const stop = new AbortController();
  // Ctrl-C on `npm start` reaches the worker twice, milliseconds apart: from the terminal (to the
  // whole foreground group) and passed on by npm start. Left to Node's default, the second one
  // would end the process at once, mid-way through handing its job back (the job then waits out
  // its lease) or while closing. So a signal within a second of the first is that same stop; a
  // later one (pressed again while a stop hangs) exits at once, as the default would. Kept until
  // the process exits, which follows the return: the duplicate can arrive after it.
  let firstSignal = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!firstSignal) {
      firstSignal = Date.now();
      stop.abort();
    } else if (Date.now() - firstSignal > 1000) process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A stop that finished within milliseconds (a job handed back at once) must not exit before the
  // duplicate arrives: once Node is tearing down, the signal's default ends the process after all,
  // with the signal instead of 0 (seen in CI when the duplicate came 30 ms after the first).
  const absorbDuplicate = async () => {
    const left = firstSignal ? firstSignal + DUPLICATE_SIGNAL_MS - Date.now() : 0;
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  };
  // On a first run the server is still downloading the model: wait for it rather than exit.
  let engine: Awaited<ReturnType<typeof openEngine>> | undefined;
  for (let said = false; !engine; ) {
    try {
      engine = await openEngine(cfg, { writer: true });
    } catch (e) {
      if (errorKind(e) !== 'model') throw e;
      if (!said) log({ event: 'waiting', reason: errorMessage(e) });
      said = true;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000);
        stop.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
      if (stop.signal.aborted) return (await absorbDuplicate(), 0);
    }
  }
  const work = await openWork(cfg);
  const watch = values['no-watch'] ? undefined : new LibraryWatch({ ...work, store: engine.store }, { stabilityMs, log, pathMap: cfg.pathMap });
  try {
    await watch?.start();
    log({ event: 'worker', concurrency: concurrency ?? 1, watching: watch?.watched ?? [] });
    await runWorker(engine, work, {
      concurrency,
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'claimed') log({ event: 'started', path: e.job.key, kind: e.job.kind, job: e.job.id });
        else if (e.type === 'finished') log('error' in e.outcome ? { event: 'failed', path: e.job.key, error: e.outcome.error, retried: e.outcome.transient } : { event: 'done', path: e.job.key, kind: e.job.kind });
        else if (e.type === 'handed-back') log({ event: 'handed-back', path: e.job.key, reason: e.reason });
        else if (e.type === 'queue-unreachable') log({ event: 'database-unreachable', error: e.error });
        else if (e.type === 'queue-reachable') log({ event: 'database-reachable' });
      },
    });
    await engine.store.flushIndex();
    log({ event: 'stopped' });
    return 0;
  } finally {
    await watch?.stop();
    await work.close();
    await engine.close();
    await absorbDuplicate();
  }
}
