// `vidsearch` command line. Exit codes: 0 success, 1 when any file failed or on errors, 2 on usage
// errors. With --json, stdout holds only the JSON document; progress and logs go to stderr.
import fs from 'node:fs';
import path from 'node:path';
import { COMMON, INDEXING, RERANKING, configFrom, parse } from './cli-args';
import { openEngine } from '../services/engine';
import { repoolLibrary } from '../services/repool';
import { UsageError, VidsearchError, errorMessage } from '../core/errors';
import { cmdLibrary, cmdWorker } from './cmd-work';
import { LOW_CONFIDENCE, TEMPLATE_SETS, type TemplateSetName } from '../services/actions';
import { WatchDaemon, lineLogger, readDaemonStatus } from '../services/daemon';
import { RunStoppedError, indexTargets, type IndexEvent, type IndexReport } from '../services/pipeline';
import { toolReport, toolReportLines, type ToolReport } from '../io/ffmpeg/media';
import { DEFAULT_HOST, DEFAULT_PORT, resolveConfig, resolveServerConfig } from '../services/config';
import { Store } from '../io/db/store';
import { ImageSearchFields, parseSearchRequest, splitLike } from '../core/search-request';
import { chooseLabelSet, retagAll, tagFile, tagVideo } from '../services/tagging';
import { cmdEval, cmdExportFeatures } from './cli-quality';
import { cmdDoctor, damageHint } from './cli-doctor';
import { listModels, pullModel, renderProgress } from '../../models/pull';
import { REGISTRY } from '../../models/registry';

const CONFIG_HELP = `Configuration (flags, then environment, then defaults):
  --home DIR          data directory (VIDSEARCH_HOME, default ./data)
  --model NAME|DIR    model name under models/ or a model folder (VIDSEARCH_MODEL, default clip-vit-base-patch32)
  --variant V         fp32 | quantized | fp16 (VIDSEARCH_VARIANT, default fp32)
  --threads N         inference threads (VIDSEARCH_THREADS, default: all cores)
  DATABASE_URL        SQLite "file:" URL (default: vidsearch.db in the data directory)`;

const HELP: Record<string, string> = {
  main: `vidsearch: search a video library by describing what you remember

Usage:
  vidsearch index <file|dir>...   index new and changed videos (folders are reconciled)
  vidsearch search "<text>"       find videos and the moments in them (or --like ID@S, --image F)
  vidsearch watch <dir>...        keep the index of folders current (daemon)
  vidsearch library add|remove|list|scan <dir>   the folders vidsearch follows (rows any process sees)
  vidsearch worker                run queued jobs (index, remove, scan) until stopped; watches the libraries
  vidsearch tag <file|videoId>    what happens in a video (zero-shot action labels)
  vidsearch stats                 what the index holds
  vidsearch doctor [--repair]     check the data directory for damage; repair what can be rebuilt
  vidsearch eval --captions F     retrieval quality (R@1/5/10) on captioned videos
  vidsearch export-features       frame and caption vectors for training the transformer pooler
  vidsearch models list|pull      the CLIP models
Run \`vidsearch <command> --help\` for a command's options.

Web app (in the project folder):
  npm start                       the search page at http://127.0.0.1:3000; PORT and HOST change
                                  where it listens (beyond loopback it asks for VIDSEARCH_PASSWORD
                                  or VIDSEARCH_API_TOKEN). It downloads the model when missing.
  npm run demo                    the same with sample videos and the small test model, offline`,
  index: `Usage: vidsearch index <file|dir>... [options]

Indexes new and changed video files. A folder is reconciled: files gone from it are removed from
the index, unchanged files are skipped without decoding, bad files are recorded with their error.
A folder that cannot be read, and a name that is not valid UTF-8, are reported as failed and what
the index holds for them is kept. A full disk or a broken ffmpeg/ffprobe stops the run (exit 1)
after printing the report of what was saved; nothing is recorded against the file in progress.

Options:
  --json              print {"indexed","skipped","removed","failed"} on stdout
  --force             re-index unchanged files too
  --retry-failed      retry files that failed before even if unchanged
  --reindex           drop the whole index first (after changing model or pooling)
  --fps N             frames sampled per second (VIDSEARCH_FPS, default 1)
  --segment-seconds N segment length (VIDSEARCH_SEGMENT_SECONDS, default 10)
  --batch-size N      images per inference call (VIDSEARCH_BATCH_SIZE, default 16)
  --pooling P         mean | transformer: how frame vectors become segment vectors (VIDSEARCH_POOLING)
  --pooler FILE       the transformer pooler (VIDSEARCH_POOLER, default <model folder>/pooler.onnx)
  --repool            recompute segment and video vectors from the stored frame vectors with the
                      pooling settings (no decoding; no files needed). Indexing with a new pooling
                      setting re-pools first anyway.
${CONFIG_HELP}

Exit status: 0 all good, 1 some file failed, 2 usage error.`,
  search: `Usage: vidsearch search "<text>" [--k 10] [--offset 0] [--json]
       vidsearch search --like <videoId>@<seconds> [--k 10] [--offset 0] [--json]
       vidsearch search --image <file> [--k 10] [--json]

Options:
  --like ID@SECONDS   more like that moment: the indexed frame nearest it is the query; its own
                      segment and the neighbouring ones are left out, and its video comes last
  --image FILE        search with a picture (PNG, JPEG, WebP, BMP, TIFF), read as a frame is
  --k N               number of videos (1-200, default 10)
  --offset N          skip the best N videos: the next page of --k N is --offset N (0-1000)
  --no-rerank         rank by the pooled segment vectors only, without query-adaptive re-ranking
                      of the candidates (VIDSEARCH_RERANK=0; --rerank-tau T, VIDSEARCH_RERANK_TAU)
  --json              print {"query","tookMs","offset","more","closeMatch","results":[...]} on stdout

Each video shows its match (0-100: how clearly it stands above what the library scores for this
query; 50 and up is a close match) and its cosine. When nothing is a close match, it says so and
shows the closest.
${CONFIG_HELP}`,
  watch: `Usage: vidsearch watch <dir>... [options]

Reconciles each folder with the index (new and changed files queued, files gone removed, unchanged
files skipped without decoding), then watches it. A file is indexed once it has stopped changing;
a renamed or moved file keeps its vectors; a deleted one is removed, one that cannot be seen (an
unreadable folder) is kept. A full disk is retried with backoff. Ctrl-C or SIGTERM stops cleanly.
Logs one line per event (JSON when stderr is not a terminal).

Options:
  --poll              poll instead of file-system events (network file systems)
  --stability-ms N    how long a file must stay unchanged before indexing (default 2000)
  --concurrency N     videos indexed at once (default 1: inference already uses every core)
${CONFIG_HELP}`,
  tag: `Usage:
  vidsearch tag <file|videoId> [--labels a,b,c | --label-set S | --labels-file F] [--k 5] [--json]
  vidsearch tag --all [--label-set S | --labels a,b,c | --labels-file F]

Zero-shot action labels (ActionCLIP-style prompt ensembling over CLIP): each label is written into
prompt templates and matched against the video's pooled vector; scores are probabilities over the
label set (relative, not calibrated; a top label under ${LOW_CONFIDENCE} is marked low confidence).
An indexed video is tagged from its stored vectors; a file that is not indexed is encoded on the
fly and not added. --all re-tags the whole library for a label set (no decoding) and makes it the
set new videos are tagged with.

Options:
  --label-set S       kinetics400 (default), kinetics700, ucf101
  --labels a,b,c      your own labels
  --labels-file F     one label per line
  --templates T       clip-kinetics | clip-ucf101 | actionclip (default: CLIP's for the label set)
  --k N               labels per video and per segment (default 5)
  --json              print {"videoId","path","labels","segments"} on stdout
${CONFIG_HELP}`,
  stats: `Usage: vidsearch stats [--json]

Videos by status, segments, frames, the model in use and the index size; the ffmpeg and ffprobe
in use (paths, versions) and whether they decode H.264, HEVC, VP9 and AV1.
  --home DIR          data directory (VIDSEARCH_HOME)`,
  models: `Usage:
  vidsearch models list [--json]
  vidsearch models pull [name] [--variants fp32,quantized]

pull downloads a model (default clip-vit-base-patch32) into models/<name>/, resuming interrupted
downloads and checking sha256. HF_ENDPOINT or VIDSEARCH_HF_ENDPOINT points it at a mirror.`,
};

/** The data directory, model and web address this environment gives, for the main help. */
function inUse(env: NodeJS.ProcessEnv): string {
  let data: string;
  try {
    const cfg = resolveConfig({}, env);
    data = `Data directory in use: ${cfg.home} (VIDSEARCH_HOME or --home)\nModel: ${cfg.model} (VIDSEARCH_MODEL)`;
  } catch (e) {
    data = `Data directory: the configuration is invalid: ${errorMessage(e)}`;
  }
  let web = '';
  try {
    const s = resolveServerConfig(env);
    const host = s.host.includes(':') ? `[${s.host}]` : s.host === '0.0.0.0' || s.host === '::' ? 'localhost' : s.host;
    if (s.host !== DEFAULT_HOST || s.port !== DEFAULT_PORT) web = `\nWeb app with this environment: http://${host}:${s.port}`;
  } catch {
    // a bad HOST/PORT is reported by npm start itself
  }
  return `\n${data}${web}`;
}

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export interface IndexProgress {
  files: number;
  finished: number;
  /** frames encoded in the finished files */
  framesDone: number;
  /** the file in progress: frames encoded so far, and how many its duration × fps makes */
  current: { frames: number; expected: number; name: string };
  elapsedSeconds: number;
}

/**
 * The progress line. The bar and the ETA count the file in progress by its frames, so that one
 * long file moves the bar and has an ETA instead of sitting at 0/1 until it is done.
 */
export function indexProgressLine(p: IndexProgress): string {
  const { files, finished, current, elapsedSeconds: elapsed } = p;
  const fps = (p.framesDone + current.frames) / Math.max(elapsed, 1e-3);
  const within = current.expected > 0 ? Math.min(1, current.frames / current.expected) : 0;
  const fraction = files ? Math.min(1, (finished + within) / files) : 0;
  // Files still to come are taken to cost what the work so far cost per file.
  const eta = fraction > 0 && elapsed > 0 ? (elapsed * (1 - fraction)) / fraction : NaN;
  const width = 20;
  const filled = Math.round(fraction * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const frames = current.expected > 0 ? `  frame ${Math.min(current.frames, current.expected)}/${current.expected}` : '';
  return `${bar} ${finished}/${files} files${frames}  ${fps.toFixed(1)} frames/s  ETA ${Number.isFinite(eta) ? clock(eta) : '--'}  ${current.name}`;
}

/** A one-line progress display on a terminal; nothing when stderr is not a terminal. */
function progressReporter(sampleFps: number): (e: IndexEvent) => void {
  const tty = process.stderr.isTTY;
  const started = Date.now();
  let framesDone = 0;
  let current = { frames: 0, expected: 0, name: '' };
  let files = 0;
  let finished = 0;
  let last = 0;
  const draw = (force = false) => {
    if (!tty) return;
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const line = indexProgressLine({ files, finished, framesDone, current, elapsedSeconds: (now - started) / 1000 });
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 100) - 1)}`);
  };
  return (e) => {
    if (e.type === 'plan') files = e.files;
    else if (e.type === 'start') current = { frames: 0, expected: 0, name: path.basename(e.path) };
    // The sampler takes one frame per 1/fps seconds of the probed duration.
    else if (e.type === 'frames') current = { ...current, frames: e.frames, expected: Math.max(e.frames, Math.ceil(e.duration * sampleFps)) };
    else if (e.type === 'done') {
      finished++;
      framesDone += e.result.status === 'indexed' ? e.result.frames : 0;
      current = { frames: 0, expected: 0, name: '' };
      if (tty && e.result.status === 'failed') process.stderr.write(`\r\x1b[2Kfailed: ${e.result.path}: ${e.result.error}\n`);
      if (tty && finished === files) {
        draw(true);
        process.stderr.write('\n');
        return;
      }
    }
    draw();
  };
}

async function cmdIndex(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, ...INDEXING, force: { type: 'boolean' }, 'retry-failed': { type: 'boolean' }, reindex: { type: 'boolean' }, repool: { type: 'boolean' } });
  if (values.help) return out(HELP.index), 0;
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
}

async function cmdSearch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, ...RERANKING, k: { type: 'string' }, offset: { type: 'string' }, like: { type: 'string' }, image: { type: 'string' } });
  if (values.help) return out(HELP.search), 0;
  const query = positionals.join(' ');
  const like = typeof values.like === 'string' ? splitLike(values.like) : undefined;
  const image = values.image as string | undefined;
  if (image !== undefined && (like || query.trim())) throw new UsageError('give a query, --like or --image, not two of them');
  if (image === undefined && !like && !query.trim()) throw new UsageError('search needs a query: vidsearch search "a dog catching a frisbee" (or --like <videoId>@<seconds>, --image <file>)');
  // The API's schema (GET /api/search), so that both refuse the same things.
  const k = values.k as string | undefined;
  const offset = values.offset as string | undefined;
  const req = image === undefined ? parseSearchRequest({ q: query.trim() ? query : undefined, ...like, k, offset }) : { ...parseSearchRequest({ k }, ImageSearchFields), q: undefined, like: undefined, t: undefined, offset: 0 };
  if (image !== undefined && !fs.statSync(image, { throwIfNoEntry: false })?.isFile()) throw new UsageError(`no such file: ${image}`, { cause: { file: image } });
  // One query per process: the text encoder is loaded lean (model.ts, oneQuery).
  const engine = await openEngine(configFrom(values), { oneQuery: true });
  try {
    const res =
      image !== undefined ? await engine.searcher.searchImage(image, { k: req.k }) : req.like !== undefined ? await engine.searcher.searchLike(req.like, req.t!, { k: req.k, offset: req.offset }) : await engine.searcher.search(req.q!, { k: req.k, offset: req.offset });
    if (values.json) {
      out(JSON.stringify(res, null, 2));
      return 0;
    }
    if (res.results.length === 0) {
      const stats = await engine.store.stats();
      out(stats.videos.indexed ? `no results for "${res.query}"` : 'no videos indexed yet: run `vidsearch index <folder>`');
      return 0;
    }
    if (!res.closeMatch) out(`no close match for "${res.query}": showing the closest`);
    res.results.forEach((r, i) => {
      out(`${res.offset + i + 1}. ${r.path}`);
      out(`   match ${r.match ?? '-'} (cosine ${r.score.toFixed(3)})  best moment ${clock(r.bestTime)} (in ${clock(r.start)}-${clock(r.end)})`);
      const others = r.moments.slice(1).map((m) => `${clock(m.bestTime)} (match ${m.match ?? '-'})`);
      if (others.length) out(`   also: ${others.join(', ')}`);
    });
    err(`${res.results.length} videos in ${res.tookMs} ms${res.more ? `; more: --offset ${res.offset + req.k}` : ''}`);
    return 0;
  } finally {
    await engine.close();
  }
}

async function cmdWatch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...COMMON, ...INDEXING, poll: { type: 'boolean' }, 'stability-ms': { type: 'string' }, concurrency: { type: 'string' } });
  if (values.help) return out(HELP.watch), 0;
  if (positionals.length === 0) throw new UsageError('watch needs at least one folder: vidsearch watch ~/Videos');
  const int = (name: string, v: unknown, min: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer of at least ${min}, got "${v}"`);
    return n;
  };
  const stabilityMs = int('stability-ms', values['stability-ms'], 0);
  const concurrency = int('concurrency', values.concurrency, 1);
  for (const dir of positionals) {
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`not a folder: ${dir}`);
  }
  const engine = await openEngine(configFrom(values), { writer: true });
  const daemon = new WatchDaemon(engine, { dirs: positionals, poll: !!values.poll, stabilityMs, concurrency, log: lineLogger(process.stderr) });
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  try {
    await daemon.start();
    await stopped;
    await daemon.stop();
    return 0;
  } finally {
    await engine.close();
  }
}

async function cmdTag(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...COMMON,
    all: { type: 'boolean' },
    labels: { type: 'string' },
    'label-set': { type: 'string' },
    'labels-file': { type: 'string' },
    templates: { type: 'string' },
    k: { type: 'string' },
  });
  if (values.help) return out(HELP.tag), 0;
  if (!values.all && positionals.length !== 1) throw new UsageError('tag takes one file or video id (or --all)');
  if (values.all && positionals.length) throw new UsageError('tag --all takes no file');
  const k = values.k === undefined ? 5 : Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > 50) throw new UsageError(`--k must be an integer from 1 to 50, got "${values.k}"`);
  const templates = values.templates as TemplateSetName | undefined;
  if (templates && !(TEMPLATE_SETS as readonly string[]).includes(templates)) throw new UsageError(`--templates takes ${TEMPLATE_SETS.join(', ')}; got "${templates}"`);
  const choice = {
    labels: values.labels === undefined ? undefined : (values.labels as string).split(','),
    labelSet: values['label-set'] as string | undefined,
    labelsFile: values['labels-file'] as string | undefined,
    templates,
  };
  const engine = await openEngine(configFrom(values), { writer: !!values.all });
  try {
    const set = await chooseLabelSet(engine, choice);
    if (values.all) {
      const res = await retagAll(engine, set, (done, total) => process.stderr.isTTY && process.stderr.write(`\r\x1b[2Ktagging ${done}/${total}`));
      if (process.stderr.isTTY) process.stderr.write('\n');
      if (values.json) out(JSON.stringify(res, null, 2));
      else out(`tagged ${res.videos} videos with ${res.labelSet}; new videos will be tagged with it too`);
      return 0;
    }
    const target = positionals[0];
    const tagged = /^\d+$/.test(target) && !fs.existsSync(target) ? await tagVideo(engine, Number(target), set, k) : await tagFile(engine, target, set, k);
    if (!tagged) throw new UsageError(`no indexed video with id ${target}`);
    if (values.json) {
      out(JSON.stringify(tagged, null, 2));
      return 0;
    }
    const fmt = (tags: { label: string; score: number }[], low: boolean) => tags.map((t) => `${t.label} ${(t.score * 100).toFixed(1)}%`).join(', ') + (low ? '  (low confidence)' : '');
    out(`${tagged.path}${tagged.videoId !== undefined ? ` (video ${tagged.videoId})` : ' (not indexed)'}`);
    out(`  ${fmt(tagged.labels, tagged.lowConfidence)}`);
    for (const seg of tagged.segments) out(`  ${clock(seg.start)}-${clock(seg.end)}  ${fmt(seg.labels.slice(0, 3), seg.lowConfidence)}`);
    return 0;
  } finally {
    await engine.close();
  }
}

async function cmdStats(args: string[]): Promise<number> {
  const { values } = parse(args, COMMON);
  if (values.help) return out(HELP.stats), 0;
  const cfg = configFrom(values);
  const store = await Store.open(cfg);
  try {
    const s = await store.stats();
    const daemon = readDaemonStatus(cfg.home) ?? null;
    // Missing or broken tools are part of the answer, not a reason to fail the command.
    const tools: ToolReport | { error: string } = await toolReport().catch((err: unknown) => ({ error: errorMessage(err) }));
    if (values.json) {
      out(JSON.stringify({ home: cfg.home, ...s, daemon, tools }, null, 2));
      return 0;
    }
    out(`data directory  ${cfg.home}`);
    out(`videos          ${s.videos.total} (${s.videos.indexed} indexed, ${s.videos.failed} failed, ${s.videos.pending} pending)`);
    out(`segments        ${s.segments}`);
    out(`frames          ${s.frames}`);
    out(`model           ${s.identity ? `${s.identity.model.name} (${s.identity.model.variant}, ${s.identity.model.dim}-d, ${s.identity.pooling} pooling)` : 'none yet'}`);
    out(`index           ${s.index.vectors} vectors, ${(s.index.bytes / 1e6).toFixed(1)} MB${s.index.inStep ? '' : ' (out of step: rebuilt on next use)'}`);
    if (s.index.rebuilt) out(`                rebuilt from the database just now: the published file ${s.index.rebuilt}`);
    if (daemon) {
      out(`daemon          pid ${daemon.pid}, ${daemon.state}, ${daemon.queue} queued${daemon.current.length ? `, indexing ${daemon.current.join(', ')}` : ''}`);
      for (const f of daemon.recentFailures.slice(-5)) out(`  failed ${f.at}: ${f.path}: ${f.error}`);
    }
    if ('error' in tools) out(`ffmpeg          ${tools.error}`);
    else for (const line of toolReportLines(tools)) out(line);
    return 0;
  } finally {
    await store.close();
  }
}

async function cmdModels(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h') return out(HELP.models), sub ? 0 : 2;
  const { values, positionals } = parse(rest, { ...COMMON, variants: { type: 'string' } });
  if (values.help) return out(HELP.models), 0;
  const cfg = configFrom(values);
  if (sub === 'list') {
    const models = await listModels(cfg.modelsDir);
    if (values.json) return out(JSON.stringify(models, null, 2)), 0;
    for (const m of models) out(`${m.installed ? '*' : ' '} ${m.name.padEnd(28)} ${m.installed ? `installed (${m.variants.join(', ')})` : 'not installed'}  ${m.description ?? ''}`);
    out(`(* installed, in ${cfg.modelsDir}; the model in use is ${cfg.model})`);
    return 0;
  }
  if (sub === 'pull') {
    const name = positionals[0] ?? 'clip-vit-base-patch32';
    if (!REGISTRY[name]) throw new UsageError(`unknown model "${name}"; known: ${Object.keys(REGISTRY).join(', ')}`);
    const variants = values.variants ? (values.variants as string).split(',').map((v) => v.trim()) : undefined;
    for (const v of variants ?? []) if (!['fp32', 'quantized', 'fp16'].includes(v)) throw new UsageError(`--variants takes fp32, quantized, fp16; got "${v}"`);
    const res = await pullModel({ name, modelsDir: cfg.modelsDir, variants: variants as never, onProgress: renderProgress(process.stderr) });
    if (values.json) out(JSON.stringify(res, null, 2));
    else out(`model ${name} is ready in ${res.dir}`);
    return 0;
  }
  throw new UsageError(`unknown models command "${sub}": use list or pull`);
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = { index: cmdIndex, search: cmdSearch, watch: cmdWatch, worker: cmdWorker, library: cmdLibrary, tag: cmdTag, stats: cmdStats, models: cmdModels, eval: cmdEval, 'export-features': cmdExportFeatures, doctor: cmdDoctor };

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out(HELP.main);
    out(inUse(process.env));
    return cmd ? 0 : 2;
  }
  const run = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  try {
    if (!run) throw new UsageError(`unknown command "${cmd}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    return await run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`vidsearch: ${e.message}`);
      err(`run \`vidsearch ${run !== undefined ? cmd + ' ' : ''}--help\` for usage`);
      return 2;
    }
    err(`vidsearch: ${e instanceof VidsearchError ? e.message : errorMessage(e)}`);
    const hint = damageHint(e);
    if (hint) err(`vidsearch: ${hint}`);
    if (process.env.VIDSEARCH_DEBUG && e instanceof Error) err(e.stack ?? '');
    return 1;
  }
}
