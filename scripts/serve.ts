// What `npm start` and `npm run demo` share: prepare the data directory, check the model, build the
// app when its sources are newer than the last build, then serve it (scripts/server.ts) in the
// foreground, with a worker beside it (the queue's jobs, the libraries' watchers).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addLibrary, openWork, resolveConfig, resolveServerConfig, type Config, type ServerConfig, errorMessage, PROJECT_ROOT, Store } from '../indexer/index';

const NEXT_BIN = createRequire(path.join(PROJECT_ROOT, 'package.json')).resolve('next/dist/bin/next');
// What the server bundle is built from; data, tests and scripts are not part of it.
const SOURCE_DIRS = ['app', 'components', 'indexer', 'models', 'prisma', 'public'];
const SOURCE_FILES = ['next.config.js', 'next.config.mjs', 'next.config.ts', 'package.json', 'package-lock.json', 'tsconfig.json', 'postcss.config.js', 'postcss.config.mjs'];
const SOURCE_EXT = /\.(tsx?|jsx?|mjs|cjs|css|json|prisma|svg|png|ico)$/;

const log = (s: string) => process.stderr.write(`vidsearch: ${s}\n`);

function newestSource(dir: string): number {
  let newest = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (SOURCE_EXT.test(e.name)) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

/** True when there is no build, or a source file changed after it. */
export function needsBuild(root = PROJECT_ROOT): boolean {
  const built = fs.statSync(path.join(root, '.next', 'BUILD_ID'), { throwIfNoEntry: false });
  if (!built) return true;
  const newest = Math.max(
    ...SOURCE_DIRS.map((d) => newestSource(path.join(root, d))),
    ...SOURCE_FILES.map((f) => fs.statSync(path.join(root, f), { throwIfNoEntry: false })?.mtimeMs ?? 0),
  );
  return newest > built.mtimeMs;
}

/**
 * `vidsearch worker` beside the web server (unless VIDSEARCH_WORKER=0: a web-only node), as a child
 * so that indexing never stalls the server's event loop: it runs the queue's jobs and watches the
 * libraries. The folders of VIDSEARCH_LIBRARY (separated by the platform's path delimiter, ':'
 * here) are added as libraries first; folders added from the web app or `vidsearch library add`
 * join them without a restart.
 */
async function startWorker(env: NodeJS.ProcessEnv, cfg: Config): Promise<ReturnType<typeof spawn> | undefined> {
  if (cfg.libraryDirs.length) {
    const work = await openWork(cfg);
    try {
      for (const dir of cfg.libraryDirs) {
        try {
          const { library, created } = await addLibrary(work, dir);
          log(`${created ? 'following' : 'library'} ${library.path} (VIDSEARCH_LIBRARY)`);
        } catch (err) {
          log(`VIDSEARCH_LIBRARY: ${errorMessage(err)}`);
        }
      }
    } finally {
      await work.close();
    }
  }
  if (!cfg.worker) {
    log('no worker in this process (VIDSEARCH_WORKER=0): queued work waits for a `vidsearch worker` elsewhere');
    return undefined;
  }
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'vidsearch.js'), 'worker'], {
    cwd: PROJECT_ROOT,
    env: { ...env, VIDSEARCH_HOME: cfg.home, DATABASE_URL: cfg.databaseUrl },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.once('exit', (code) => {
    if (code) log(`the worker exited with code ${code}; the web app keeps serving what is indexed`);
  });
  return child;
}

/** Runs the Next.js CLI in the project root; resolves with its exit code. Ctrl-C and SIGTERM are passed on. */
export function next(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(process.execPath, [NEXT_BIN, ...args], { cwd: PROJECT_ROOT, env: { ...env, NEXT_TELEMETRY_DISABLED: '1' }, stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 143));
    });
  });
}

async function announceWhenReady(server: ServerConfig, signal: AbortSignal): Promise<void> {
  // The first request opens the engine (loads the model); asking now means the first search is fast.
  const any = server.host === '0.0.0.0' || server.host === '::';
  const host = any ? '127.0.0.1' : server.host.includes(':') ? `[${server.host}]` : server.host;
  const url = `http://${host}:${server.port}/api/health`;
  const shown = `http://${any ? 'localhost' : host}:${server.port}${any ? ' (and on every address of this machine)' : ''}`;
  // With a token the full answer; without one (password only) the server says just whether it works.
  const headers: Record<string, string> = server.apiToken ? { Authorization: `Bearer ${server.apiToken}` } : {};
  let said = false;
  while (!signal.aborted) {
    // Quickly until the server answers; then, while the model downloads, a look every few seconds.
    await sleep(said ? 3000 : 500, undefined, { signal }).catch(() => {});
    const health = await fetch(url, { signal, headers })
      .then((r) => r.json() as Promise<{ ok: boolean; videos?: number; error?: string }>)
      .catch(() => undefined);
    if (!health) continue;
    const indexed = health.videos === undefined ? '' : ` (${health.videos} videos indexed)`;
    if (health.ok) {
      log(`${said ? 'search is ' : ''}ready at ${shown}${indexed}`);
      return;
    }
    // Not the error again: the server already logged it once; the page shows it with what to do.
    if (!said) log(`running at ${shown}; search is not ready yet: open the page to see why (the model download's progress, or what to place where)`);
    said = true;
  }
}

/**
 * Migrates the database, checks the model, builds if needed, then serves until the server exits.
 * `env` is the server's environment (VIDSEARCH_HOME, VIDSEARCH_MODEL, DATABASE_URL, PORT, ...).
 */
export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let cfg: Config;
  let listen: ServerConfig;
  try {
    cfg = resolveConfig({}, env);
    // Checked before anything else (a build takes minutes): HOST beyond loopback without a credential is refused.
    listen = resolveServerConfig(env);
  } catch (err) {
    log(errorMessage(err));
    return 2;
  }
  const port = listen.port;
  // A data directory that cannot be opened is not something the web page could help with.
  try {
    await (await Store.open(cfg)).close();
  } catch (err) {
    log(errorMessage(err));
    return 1;
  }
  // A missing model is the normal state of a fresh install: the server downloads the default one
  // in the background (indexer/services/provision.ts) and says so in its log, once; the page shows the
  // progress or, offline, what to do. Not checked here, or the log would say it twice.
  const serverEnv = { ...env, VIDSEARCH_HOME: cfg.home, DATABASE_URL: cfg.databaseUrl };
  if (needsBuild()) {
    log('building the web app (next build)…');
    const code = await next(['build'], serverEnv);
    if (code !== 0) {
      log(`next build failed (exit code ${code})`);
      return code;
    }
  }
  const server = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts', 'server.ts')], {
    cwd: PROJECT_ROOT,
    env: { ...serverEnv, PORT: String(port), NEXT_TELEMETRY_DISABLED: '1' },
    stdio: 'inherit',
  });
  const daemon = await startWorker(env, cfg);
  const forward = (signal: NodeJS.Signals) => {
    server.kill(signal);
    daemon?.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const stopped = new AbortController();
  void announceWhenReady(listen, stopped.signal);
  try {
    const [code] = await Promise.all([
      new Promise<number>((resolve) => server.once('exit', (c, sig) => resolve(c ?? (sig === 'SIGINT' ? 130 : 143)))),
      daemon ? new Promise<void>((resolve) => daemon.once('exit', () => resolve())) : undefined,
    ]);
    return code;
  } finally {
    stopped.abort();
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}
