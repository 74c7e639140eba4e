// The built web app (scripts/server.ts, as `npm start` runs it) as a child process, for tests that
// talk to it over HTTP or through a browser.
// `next build` takes a minute or more, so a build is reused while it is newer than its sources.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { needsBuild } from '../scripts/serve';
import { REPO_ROOT } from './helpers';

const NEXT_BIN = path.join(REPO_ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NEXT_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`next ${args.join(' ')} exited with ${code}:\n${out.slice(-6000)}`))));
  });
}

/** Runs `next build` unless .next holds a build newer than the sources (the rule `npm start` uses). */
export async function ensureBuilt(): Promise<void> {
  if (needsBuild(REPO_ROOT)) await run(['build'], { ...process.env, NEXT_TELEMETRY_DISABLED: '1' });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface NextServer {
  url: string;
  /** the process group: the server and everything it started */
  pgid: number;
  /** everything the server printed so far */
  log(): string;
  stop(): Promise<void>;
}

/**
 * The production server on a free port with `env` added; resolves once it answers HTTP. `script`
 * 'server' is the web server alone (scripts/server.ts); 'start' is all of `npm start`
 * (scripts/start.ts: the web server, the libraries' watchers and a worker beside it).
 */
export async function startNext(env: Record<string, string>, { timeoutMs = 30_000, script = 'server' }: { timeoutMs?: number; script?: 'server' | 'start' } = {}): Promise<NextServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Its own process group, so stop() also ends anything it spawned (ffmpeg for thumbnails, the worker).
  // The production server `npm start` runs (Next.js plus the stream route with Content-Length).
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', `${script}.ts`)], {
    cwd: REPO_ROOT,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (b) => (output += b));
  child.stderr!.on('data', (b) => (output += b));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        // `npm start` is stopped as a user stops it: its own process passes the signal on to the
        // server and the worker (once each). The server alone: its whole group.
        process.kill(script === 'start' ? child.pid! : -child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
      const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
      if (!killed) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone between the check and the kill
        }
        await exited;
      }
    }
    // Whatever it started and left behind (a worker, ffmpeg) goes too, after a moment to finish.
    for (let i = 0; i < 50 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 100));
    if (groupAlive()) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}:\n${output.slice(-4000)}`);
    try {
      await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2000) });
      break; // any answer means it is serving
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`next start did not answer within ${timeoutMs} ms:\n${output.slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { url, pgid: child.pid!, log: () => output, stop };
}
