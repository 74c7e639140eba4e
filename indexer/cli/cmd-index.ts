// `vidsearch index`: index new and changed videos; folders are reconciled.
import { openEngine } from '../services/engine';
import { repoolLibrary } from '../services/repool';
import { UsageError } from '../core/errors';
import { RunStoppedError, indexTargets, type IndexReport } from '../services/pipeline';
import { CONFIG_GROUP, INDEXING, configFrom, json } from './options';
import { err, out, parseCommand, type Command } from './command';
import { progressReporter } from './progress';

export const index: Command = {
  name: 'index',
  summary: ['vidsearch index <file|dir>...', 'index new and changed videos (folders are reconciled)'],
  usage: 'Usage: vidsearch index <file|dir>... [options]',
  about: `Indexes new and changed video files. A folder is reconciled: files gone from it are removed from
the index, unchanged files are skipped without decoding, bad files are recorded with their error.
A folder that cannot be read, and a name that is not valid UTF-8, are reported as failed and what
the index holds for them is kept. A full disk or a broken ffmpeg/ffprobe stops the run (exit 1)
after printing the report of what was saved; nothing is recorded against the file in progress.`,
  options: [
    {
      ...json('{"indexed","skipped","removed","failed"}'),
      force: { type: 'boolean', help: 're-index unchanged files too' },
      'retry-failed': { type: 'boolean', help: 'retry files that failed before even if unchanged' },
      reindex: { type: 'boolean', help: 'drop the whole index first (after changing model or pooling)' },
    },
    INDEXING,
    {
      repool: {
        type: 'boolean',
        help: 'recompute segment and video vectors from the stored frame vectors with the pooling settings (no decoding; no files needed). Indexing with a new pooling setting re-pools first anyway.',
      },
    },
  ],
  groups: [CONFIG_GROUP],
  footer: 'Exit status: 0 all good, 1 some file failed, 2 usage error.',
  async main(args) {
    const parsed = parseCommand(index, args);
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    if (positionals.length === 0 && !values.repool) throw new UsageError('index needs at least one file or folder: vidsearch index ~/Videos');
    if (values.repool && values.reindex) throw new UsageError('--repool keeps the frame vectors and --reindex drops them: give one');
    const cfg = configFrom(values);
    const onRepool = process.stderr.isTTY ? (e: { stage: string; done: number; total: number }) => process.stderr.write(`\r\x1b[2Kre-pooling: ${e.stage} ${e.done}/${e.total}`) : undefined;
    const engine = await openEngine(cfg, { writer: true, reindex: !!values.reindex, onRepool });
    // --repool on an index already pooled this way still recomputes (and adds frame packs to an index made before them).
    if (values.repool && !engine.repooled && engine.store.identity) {
      try {
        engine.repooled = await repoolLibrary(engine, engine.identity, onRepool);
      } catch (e) {
        await engine.close();
        throw e;
      }
    }
    if (onRepool && engine.repooled) process.stderr.write('\n');
    if (engine.repooled && !values.json) {
      const r = engine.repooled;
      const change = r.from?.pooling === r.to.pooling ? `with ${r.to.pooling} pooling` : `from ${r.from?.pooling ?? '?'} to ${r.to.pooling} pooling`;
      out(`re-pooled ${r.videos} videos (${r.segments} segments) ${change} in ${r.seconds} s, from stored frame vectors`);
    }
    if (positionals.length === 0) {
      if (values.json) out(JSON.stringify({ repooled: engine.repooled ?? null, pooling: engine.identity.pooling }, null, 2));
      else if (!engine.repooled) out('the index is empty: nothing to re-pool');
      await engine.close();
      return 0;
    }
    const controller = new AbortController();
    const stop = () => {
      if (!controller.signal.aborted) err('\nstopping: finishing up and saving the index (press Ctrl-C again to force)');
      else process.exit(130);
      controller.abort();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const print = (report: IndexReport) => {
      if (values.json) out(JSON.stringify(report, null, 2));
      else {
        out(`indexed ${report.indexed.length}, skipped ${report.skipped.length}, removed ${report.removed.length}, failed ${report.failed.length}`);
        for (const f of report.failed) out(`  failed: ${f.path}: ${f.error}`);
      }
    };
    let stopped = false;
    try {
      const report = await indexTargets(engine, positionals, {
        force: !!values.force,
        retryFailed: !!values['retry-failed'],
        signal: controller.signal,
        onEvent: progressReporter(engine.cfg.fps),
      });
      print(report);
      if (controller.signal.aborted) return 130;
      return report.failed.length ? 1 : 0;
    } catch (e) {
      if (controller.signal.aborted) {
        err('interrupted: the file in progress was abandoned; everything before it is saved');
        return 130;
      }
      if (e instanceof RunStoppedError) {
        // What was saved before the stop is the useful part: the same report as a finished run.
        stopped = true;
        if (process.stderr.isTTY) process.stderr.write('\n');
        print(e.report);
        err(`vidsearch: ${e.message}`);
        return 1;
      }
      throw e;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // After a stop the index file may not be publishable (the disk is still full); the database
      // holds everything saved and the index is rebuilt from it on the next run.
      await engine.close().catch((e) => {
        if (!stopped) throw e;
      });
    }
  },
};
