// One typed configuration, resolved in one place: flags, then environment, then defaults. Every
// setting the engine, the web app and the scripts read is named, parsed and validated here, once at
// start-up (the CLI, scripts/server.ts, scripts/serve.ts); a bad value stops the start with a
// message naming the setting. The web app reads the process's copy (processConfig,
// processServerConfig) instead of its environment per request. Three reads stay elsewhere, each
// for a reason: VIDSEARCH_ROOT (io/files/paths.ts: it locates the defaults this file builds on),
// and, in cli/, VIDSEARCH_DEBUG and the settings report of `vidsearch config`.
// Over 300 lines: one table of settings, with the process copy and the daemon's, is the point.
import { LEASE_MS } from '../core/jobs';
import { parsePathMap, type PathMapping } from '../core/paths';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../core/errors';
import { DEFAULT_MODELS_DIR, PROJECT_ROOT } from '../io/files/paths';

import { MODEL_VARIANTS, POOLINGS, type ModelVariant, type PoolingName } from '../core/types';
import { DEFAULT_RERANK_TEMPERATURE } from '../core/rerank';
import { LABEL_SETS } from '../core/labels';

export type { ModelVariant, PoolingName } from '../core/types';
export { DEFAULT_RERANK_TEMPERATURE } from '../core/rerank';

export interface Config {
  /** data directory: database, HNSW index, thumbnails, lock */
  home: string;
  databaseUrl: string;
  /** a name under modelsDir or a path to a model folder */
  model: string;
  modelsDir: string;
  variant: ModelVariant;
  /** frames sampled per second of video */
  fps: number;
  /** segment length in seconds */
  segmentSeconds: number;
  pooling: PoolingName;
  /** images per inference call */
  batchSize: number;
  /** ONNX Runtime intra-op threads */
  threads: number;
  /** action labels given at index time until `tag --all` picks another set; "none" turns tagging off */
  labelSet: string;
  /** label vectors and other derived, rebuildable data */
  cacheDir: string;
  /** the transformer pooler (pooler.onnx); default <model folder>/pooler.onnx */
  pooler?: string;
  /** query-adaptive re-ranking of the HNSW candidates (indexer/core/rerank.ts) */
  rerank: boolean;
  /** softmax temperature on cosine similarities: frame weights = softmax(cos / τ) */
  rerankTemperature: number;
  /** the best this many HNSW candidate segments are re-scored (the searcher fetches at least as many) */
  rerankK: number;
  /** disk budget of the web app's thumbnail cache (<home>/thumbnails); least recently used go first */
  thumbnailCacheMb: number;
  /** disk budget of the label-vector cache (<cacheDir>/labels); least recently used go first, the library's own set never */
  labelCacheMb: number;
  /** the largest clip the web app accepts for tagging (POST /api/actions) */
  uploadMaxMb: number;
  /** the longest clip it encodes on request */
  uploadMaxSeconds: number;
  /** temporary disk all uploads in flight may take together; beyond it an upload is refused unread (503; 413 if it alone is larger) */
  uploadBudgetMb: number;
  /**
   * The web server downloads the registry's model (models/pull.ts) when it is missing, so that
   * `npm start` alone leads to a working search. Off for machines that must not reach the network
   * unasked; a model folder given by path is never downloaded.
   */
  autoPull: boolean;
  /** where uploads are written, each in a private directory (VIDSEARCH_UPLOAD_DIR, default the OS temp dir) */
  uploadDir: string;
  /** the folders `npm start` runs the watch daemon on (VIDSEARCH_LIBRARY, separated by the path delimiter) */
  libraryDirs: string[];
  /** the ffmpeg and ffprobe binaries to use (FFMPEG_PATH, FFPROBE_PATH); unset: the bundled ones */
  ffmpegPath?: string;
  ffprobePath?: string;
  /** VIDSEARCH_DEBUG: stack traces and swallowed errors on stderr */
  debug: boolean;
  /**
   * How long a worker's claim on a job holds without a heartbeat (VIDSEARCH_JOB_LEASE_MS): a
   * worker killed mid-job loses the job to another this long after its last beat.
   */
  jobLeaseMs: number;
  /** whether `npm start` runs a worker beside the web server (VIDSEARCH_WORKER=0: a web-only node) */
  worker: boolean;
  /**
   * VIDSEARCH_PATH_MAP: where this machine mounts the folders the database names, for a worker on
   * another machine than the one that added the library ("/mnt/nas=/data;/mnt/b=/b"). Empty: the
   * database's paths are this machine's.
   */
  pathMap: PathMapping[];
}

export type ConfigInput = Partial<{ [K in keyof Config]: Config[K] | string | undefined }>;

export const DEFAULT_MODEL = 'clip-vit-base-patch32';
// Beside the installation, not the working directory: `vidsearch stats` run in /tmp must read the
// library that `npm start` serves, not create an empty one there. A relative VIDSEARCH_HOME or
// --home still means relative to where the user typed it.
export const DEFAULT_HOME = path.join(PROJECT_ROOT, 'data');
// 10 s at 1 fps: close to CLIP4Clip's 12 frames a clip, short enough that a moment is not diluted
// by the rest of a long shot; the best frame inside the segment gives the finer position.
export const DEFAULT_SEGMENT_SECONDS = 10;
export const DEFAULT_UPLOAD_MAX_MB = 512;
export const DEFAULT_UPLOAD_MAX_SECONDS = 600;
// 1,000 custom labels × 28 templates of 512-d vectors take 57 MB; 256 MB keeps the shipped sets
// (23 MB for Kinetics-400) and a handful of large custom lists.
export const DEFAULT_LABEL_CACHE_MB = 256;

const LABEL_SET_NAMES = [...LABEL_SETS, 'none'] as const;

function positiveNumber(name: string, value: unknown, { integer = false, max = Infinity } = {}): number {
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || n <= 0 || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${name} must be a positive ${integer ? 'integer' : 'number'}${max < Infinity ? ` up to ${max}` : ''}, got "${value}"`, {
      cause: { setting: name, value },
    });
  }
  return n;
}

function booleanSetting(name: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const v = String(value).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new UsageError(`${name} must be true or false, got "${value}"`, { cause: { setting: name, value } });
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new UsageError(`${name} must be one of ${allowed.join(', ')}, got "${value}"`, { cause: { setting: name, value } });
  }
  return value as T;
}

/**
 * Flags win over environment variables, which win over defaults. `flags` holds only what the
 * user actually passed (undefined means "not given").
 */
export type Env = Record<string, string | undefined>;

export function resolveConfig(flags: ConfigInput = {}, env: Env = process.env): Config {
  const pick = (key: keyof Config, envName: string): unknown => {
    const f = flags[key];
    if (f !== undefined && f !== '') return f;
    const e = env[envName];
    return e !== undefined && e !== '' ? e : undefined;
  };
  const home = path.resolve(String(pick('home', 'VIDSEARCH_HOME') ?? DEFAULT_HOME));
  const databaseUrl = String(pick('databaseUrl', 'DATABASE_URL') ?? `file:${path.join(home, 'vidsearch.db')}`);
  databaseKind(databaseUrl);
  const uploadMaxMb = positiveNumber('upload size limit in MB (VIDSEARCH_UPLOAD_MAX_MB)', pick('uploadMaxMb', 'VIDSEARCH_UPLOAD_MAX_MB') ?? DEFAULT_UPLOAD_MAX_MB);
  return {
    home,
    databaseUrl,
    model: String(pick('model', 'VIDSEARCH_MODEL') ?? DEFAULT_MODEL),
    modelsDir: path.resolve(String(pick('modelsDir', 'VIDSEARCH_MODELS_DIR') ?? DEFAULT_MODELS_DIR)),
    variant: oneOf('variant (VIDSEARCH_VARIANT)', pick('variant', 'VIDSEARCH_VARIANT') ?? 'fp32', MODEL_VARIANTS),
    fps: positiveNumber('fps (VIDSEARCH_FPS)', pick('fps', 'VIDSEARCH_FPS') ?? 1, { max: 60 }),
    segmentSeconds: positiveNumber('segment length (VIDSEARCH_SEGMENT_SECONDS)', pick('segmentSeconds', 'VIDSEARCH_SEGMENT_SECONDS') ?? DEFAULT_SEGMENT_SECONDS, { max: 3600 }),
    pooling: oneOf('pooling (VIDSEARCH_POOLING)', pick('pooling', 'VIDSEARCH_POOLING') ?? 'mean', POOLINGS),
    batchSize: positiveNumber('batch size (VIDSEARCH_BATCH_SIZE)', pick('batchSize', 'VIDSEARCH_BATCH_SIZE') ?? 16, { integer: true, max: 1024 }),
    threads: positiveNumber('threads (VIDSEARCH_THREADS)', pick('threads', 'VIDSEARCH_THREADS') ?? os.availableParallelism(), { integer: true, max: 256 }),
    labelSet: oneOf('label set (VIDSEARCH_LABEL_SET)', pick('labelSet', 'VIDSEARCH_LABEL_SET') ?? 'kinetics400', LABEL_SET_NAMES),
    cacheDir: path.resolve(String(pick('cacheDir', 'VIDSEARCH_CACHE_DIR') ?? path.join(home, 'cache'))),
    pooler: pick('pooler', 'VIDSEARCH_POOLER') === undefined ? undefined : path.resolve(String(pick('pooler', 'VIDSEARCH_POOLER'))),
    rerank: booleanSetting('rerank (VIDSEARCH_RERANK)', pick('rerank', 'VIDSEARCH_RERANK') ?? true),
    rerankTemperature: positiveNumber('rerank temperature (VIDSEARCH_RERANK_TAU)', pick('rerankTemperature', 'VIDSEARCH_RERANK_TAU') ?? DEFAULT_RERANK_TEMPERATURE, { max: 100 }),
    rerankK: positiveNumber('rerank candidates (VIDSEARCH_RERANK_K)', pick('rerankK', 'VIDSEARCH_RERANK_K') ?? 100, { integer: true, max: 10000 }),
    thumbnailCacheMb: positiveNumber('thumbnail cache size in MB (VIDSEARCH_THUMBNAIL_CACHE_MB)', pick('thumbnailCacheMb', 'VIDSEARCH_THUMBNAIL_CACHE_MB') ?? 512),
    labelCacheMb: positiveNumber('label cache size in MB (VIDSEARCH_LABEL_CACHE_MB)', pick('labelCacheMb', 'VIDSEARCH_LABEL_CACHE_MB') ?? DEFAULT_LABEL_CACHE_MB),
    uploadMaxMb,
    uploadMaxSeconds: positiveNumber('upload length limit in seconds (VIDSEARCH_UPLOAD_MAX_SECONDS)', pick('uploadMaxSeconds', 'VIDSEARCH_UPLOAD_MAX_SECONDS') ?? DEFAULT_UPLOAD_MAX_SECONDS),
    // Two uploads of the largest size at once by default: the one being encoded and the next.
    uploadBudgetMb: positiveNumber('upload disk budget in MB (VIDSEARCH_UPLOAD_BUDGET_MB)', pick('uploadBudgetMb', 'VIDSEARCH_UPLOAD_BUDGET_MB') ?? 2 * uploadMaxMb),
    autoPull: booleanSetting('automatic model download (VIDSEARCH_AUTO_PULL)', pick('autoPull', 'VIDSEARCH_AUTO_PULL') ?? true),
    uploadDir: path.resolve(String(pick('uploadDir', 'VIDSEARCH_UPLOAD_DIR') ?? os.tmpdir()).trim() || os.tmpdir()),
    libraryDirs: listSetting(flags.libraryDirs ?? env.VIDSEARCH_LIBRARY),
    ...toolPaths(env, flags),
    debug: !!(flags.debug ?? env.VIDSEARCH_DEBUG),
    jobLeaseMs: positiveNumber('job lease in ms (VIDSEARCH_JOB_LEASE_MS)', pick('jobLeaseMs', 'VIDSEARCH_JOB_LEASE_MS') ?? LEASE_MS, { integer: true, max: 3_600_000 }),
    worker: booleanSetting('worker beside the web server (VIDSEARCH_WORKER)', pick('worker', 'VIDSEARCH_WORKER') ?? true),
    pathMap: pathMapSetting(pick('pathMap', 'VIDSEARCH_PATH_MAP')),
  };
}

function pathMapSetting(value: unknown): PathMapping[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value as PathMapping[];
  try {
    return parsePathMap(String(value));
  } catch (err) {
    throw new UsageError(`VIDSEARCH_PATH_MAP must be <folder in the database>=<folder here>, several separated by ';' or ',' (e.g. /mnt/nas=/data): ${(err as Error).message}`, {
      cause: { setting: 'VIDSEARCH_PATH_MAP', value },
    });
  }
}

/**
 * The Hugging Face endpoint models are downloaded from: `given` (a flag), else VIDSEARCH_HF_ENDPOINT,
 * else HF_ENDPOINT; undefined for the default (models/pull.ts). Read when a download starts, since
 * `vidsearch models pull` and the server's first-run download are the only users.
 */
export function hfEndpoint(given?: string, env: Env = process.env): string | undefined {
  const raw = given ?? env.VIDSEARCH_HF_ENDPOINT ?? env.HF_ENDPOINT;
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`HF_ENDPOINT / VIDSEARCH_HF_ENDPOINT must be an http(s) URL, got "${raw}"`, { cause: { setting: 'HF_ENDPOINT', value: raw } });
  }
  return raw.replace(/\/+$/, '');
}

/** Where `npm run demo` keeps its library: VIDSEARCH_DEMO_HOME, relative to the project, default data/demo. */
export function demoHome(env: Env = process.env): string {
  return path.resolve(PROJECT_ROOT, env.VIDSEARCH_DEMO_HOME || 'data/demo');
}

/** A list given as an array, or as one string separated by the platform's path delimiter (':' here). */
function listSetting(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  return String(value ?? '').split(path.delimiter).map((d) => d.trim()).filter(Boolean);
}

/**
 * FFMPEG_PATH and FFPROBE_PATH (flags first). io/ffmpeg/tools.ts asks here when it first needs a
 * binary, so a tool started without a full configuration (a worker, a test's child) reads the same.
 * Whether the file is executable is tools.ts's check: it names the setting when it is not.
 */
export function toolPaths(env: Env = process.env, flags: Pick<ConfigInput, 'ffmpegPath' | 'ffprobePath'> = {}): Pick<Config, 'ffmpegPath' | 'ffprobePath'> {
  const one = (f: unknown, e: string | undefined) => (f !== undefined && f !== '' ? String(f) : e !== undefined && e !== '' ? e : undefined);
  const ffmpegPath = one(flags.ffmpegPath, env.FFMPEG_PATH);
  const ffprobePath = one(flags.ffprobePath, env.FFPROBE_PATH);
  return { ...(ffmpegPath ? { ffmpegPath } : {}), ...(ffprobePath ? { ffprobePath } : {}) };
}

export type DatabaseKind = 'sqlite' | 'postgres';

/**
 * Which store a DATABASE_URL selects: a SQLite "file:" URL (the default, one machine) or a
 * PostgreSQL server ("postgresql://" or "postgres://", many workers and web servers).
 */
export function databaseKind(databaseUrl: string): DatabaseKind {
  if (databaseUrl.startsWith('file:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    try {
      new URL(databaseUrl);
    } catch {
      throw new UsageError(`DATABASE_URL is not a valid URL: "${redactUrl(databaseUrl)}"`, { cause: { setting: 'DATABASE_URL' } });
    }
    return 'postgres';
  }
  throw new UsageError(`DATABASE_URL must be a SQLite "file:" URL or a "postgresql://" URL, got "${redactUrl(databaseUrl)}"`, { cause: { setting: 'DATABASE_URL' } });
}

/** A database URL fit to print: its password replaced by "***". */
export function redactUrl(databaseUrl: string): string {
  return databaseUrl.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/** Path of the SQLite file behind a "file:" URL. */
export function sqlitePath(databaseUrl: string): string {
  if (!databaseUrl.startsWith('file:')) {
    throw new UsageError(`this needs the SQLite store, but DATABASE_URL is "${redactUrl(databaseUrl)}"`, { cause: { setting: 'DATABASE_URL' } });
  }
  return path.resolve(databaseUrl.slice('file:'.length));
}

/**
 * Settings of the web server (scripts/server.ts), kept apart from `Config` on purpose: `Config` is
 * passed to workers, the CLI and child processes, and the password has no business there.
 */
export interface ServerConfig {
  /** address to listen on: HOST, default 127.0.0.1 (never HOSTNAME, which shells and Docker set to the machine's name) */
  host: string;
  /** whether `host` only accepts connections from this machine */
  loopback: boolean;
  port: number;
  /** VIDSEARCH_PASSWORD: browser sign-in; when set, every page and route asks for it (on loopback too) */
  password?: string;
  /** VIDSEARCH_API_TOKEN: `Authorization: Bearer <token>` for API clients */
  apiToken?: string;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 3000;
// Short secrets can be guessed over the network: the password is rate-limited per client, but a
// proxy in front makes every client one address; a token is meant to be generated, not chosen.
export const MIN_PASSWORD_CHARS = 8;
export const MIN_TOKEN_CHARS = 16;

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1 (also IPv4-mapped), "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || /^(0*:)*:?0*1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/** Thrown when the server would listen beyond loopback with nothing to ask for. */
export class InsecureBindError extends UsageError {
  override name = 'InsecureBindError';
}

export function resolveServerConfig(env: Env = process.env): ServerConfig {
  const value = (name: string) => (env[name] !== undefined && env[name] !== '' ? env[name] : undefined);
  const host = (value('HOST') ?? DEFAULT_HOST).trim().replace(/^\[(.*)\]$/, '$1');
  if (!net.isIP(host) && !/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(host)) {
    throw new UsageError(`HOST must be an IP address or a host name, got "${env.HOST}"`, { cause: { setting: 'HOST', value: env.HOST } });
  }
  const port = value('PORT') === undefined ? DEFAULT_PORT : Number(String(env.PORT).trim());
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`PORT must be a port number from 1 to 65535, got "${env.PORT}"`, { cause: { setting: 'PORT', value: env.PORT } });
  }
  // Not trimmed: a password may contain spaces; an accidental trailing newline is the user's to fix.
  const password = value('VIDSEARCH_PASSWORD');
  if (password !== undefined && [...password].length < MIN_PASSWORD_CHARS) {
    throw new UsageError(`VIDSEARCH_PASSWORD must be at least ${MIN_PASSWORD_CHARS} characters`, { cause: { setting: 'VIDSEARCH_PASSWORD' } });
  }
  // Trimmed, as /api/actions has always done.
  const apiToken = value('VIDSEARCH_API_TOKEN')?.trim() || undefined;
  if (apiToken !== undefined && (apiToken.length < MIN_TOKEN_CHARS || /\s/.test(apiToken))) {
    throw new UsageError(`VIDSEARCH_API_TOKEN must be at least ${MIN_TOKEN_CHARS} characters without spaces (e.g. VIDSEARCH_API_TOKEN=$(openssl rand -hex 32))`, {
      cause: { setting: 'VIDSEARCH_API_TOKEN' },
    });
  }
  const loopback = isLoopbackHost(host);
  if (!loopback && password === undefined && apiToken === undefined) {
    throw new InsecureBindError(
      `refusing to serve on ${host} without a credential: anyone who can reach it could list and play every video. ` +
        `Set VIDSEARCH_PASSWORD=<at least ${MIN_PASSWORD_CHARS} characters> (browser sign-in) and/or ` +
        `VIDSEARCH_API_TOKEN=$(openssl rand -hex 32) (API clients, Authorization: Bearer), or HOST=127.0.0.1 to serve this machine only`,
      { cause: { setting: 'HOST', value: host } },
    );
  }
  return { host, loopback, port, password, apiToken };
}

/** The watch daemon's settings (services/daemon.ts), from its options (the CLI's flags) and defaults. */
export interface DaemonSettings {
  dirs: string[];
  /** poll instead of inotify (network file systems) */
  poll: boolean;
  /** a file must stop changing for this long before it is indexed */
  stabilityMs: number;
  /** videos indexed at once (inference is CPU-bound: 1, with batches inside) */
  concurrency: number;
  /** attempts for a transient failure before it is left as failed */
  maxAttempts: number;
  retryBaseMs: number;
  /** a removal waits this long, so that a rename's new name is seen first */
  removeGraceMs: number;
}

export const DAEMON_DEFAULTS = { poll: false, stabilityMs: 2000, concurrency: 1, maxAttempts: 4, retryBaseMs: 2000, removeGraceMs: 1000 } as const;

function wholeNumber(name: string, value: number | undefined, fallback: number, min: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`${name} must be an integer of at least ${min}, got "${value}"`, { cause: { setting: name, value } });
  }
  return n;
}

/** Validated daemon settings; a concurrency under 1 is taken as 1, as it always was. */
export function resolveDaemonSettings(opts: { dirs: string[] } & Partial<Omit<DaemonSettings, 'dirs'>>): DaemonSettings {
  return {
    dirs: opts.dirs.map((d) => path.resolve(d)),
    poll: opts.poll ?? DAEMON_DEFAULTS.poll,
    stabilityMs: wholeNumber('stability window in ms (--stability-ms)', opts.stabilityMs, DAEMON_DEFAULTS.stabilityMs, 0),
    concurrency: Math.max(1, wholeNumber('concurrency (--concurrency)', opts.concurrency, DAEMON_DEFAULTS.concurrency, -Infinity)),
    maxAttempts: wholeNumber('attempts (maxAttempts)', opts.maxAttempts, DAEMON_DEFAULTS.maxAttempts, 1),
    retryBaseMs: wholeNumber('retry delay in ms (retryBaseMs)', opts.retryBaseMs, DAEMON_DEFAULTS.retryBaseMs, 0),
    removeGraceMs: wholeNumber('removal grace in ms (removeGraceMs)', opts.removeGraceMs, DAEMON_DEFAULTS.removeGraceMs, 0),
  };
}

/**
 * The process's own configuration: its environment resolved once, at start-up (scripts/server.ts
 * does it before listening, so a bad setting stops the server there), then read by the web app's
 * pages and routes. Kept on globalThis: Next.js bundles this module more than once.
 */
const processSettings = globalThis as typeof globalThis & { __vidsearchConfig?: Config; __vidsearchServerConfig?: ServerConfig };

export function processConfig(): Config {
  return (processSettings.__vidsearchConfig ??= resolveConfig({}, process.env));
}

export function processServerConfig(): ServerConfig {
  return (processSettings.__vidsearchServerConfig ??= resolveServerConfig(process.env));
}

/** Forgets the process's copy, so the next read resolves the environment again (tests that change it). */
export function forgetProcessConfig(): void {
  processSettings.__vidsearchConfig = undefined;
  processSettings.__vidsearchServerConfig = undefined;
}
