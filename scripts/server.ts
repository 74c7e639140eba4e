// The production HTTP server: Next.js for pages and routes, except the video stream, which is
// written here. `next start` (16.4) drops Content-Length from every route-handler response and
// sends bodies chunked; a player then cannot learn a file's size from a plain GET or HEAD. The
// stream route's own handler still does all the work (range parsing, lookup by id, validation):
// this server only writes its Response to the socket with the headers intact.
import http from 'node:http';
import { Readable } from 'node:stream';
import next from 'next';
import { GET as health } from '../app/api/health/route';
import { GET, HEAD } from '../app/api/videos/[id]/stream/route';
import { AuthGate } from '../app/lib/auth';
import { processConfig, processServerConfig, type Config, type ServerConfig, errorMessage, PROJECT_ROOT, modelProvision } from '../indexer/index';
import { refuseBadRequest } from './request-check';

const STREAM = /^\/api\/videos\/([^/]+)\/stream\/?$/;

function webRequest(req: http.IncomingMessage, url: URL): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  return new Request(url, { method: req.method, headers });
}

async function sendWeb(res: http.ServerResponse, response: Response): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) return void res.end();
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  // The client went away: stop reading the file.
  res.once('close', () => body.destroy());
  body.on('error', () => res.destroy());
  body.pipe(res);
}

async function streamRoute(req: http.IncomingMessage, res: http.ServerResponse, url: URL, rawId: string): Promise<void> {
  let id: string;
  try {
    id = decodeURIComponent(rawId);
  } catch {
    res.writeHead(400, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'malformed video id' }));
    return;
  }
  const handler = req.method === 'HEAD' ? HEAD : GET;
  await sendWeb(res, await handler(webRequest(req, url), { params: Promise.resolve({ id }) }));
}

export interface RunningServer {
  url: string;
  /** what the socket is bound to */
  address: import('node:net').AddressInfo;
  /** what it asks for: "password", "API token", both, or "none" */
  authentication: string;
  close(): Promise<void>;
}

/**
 * Serves on `cfg.host`:`cfg.port` (resolveServerConfig: loopback unless HOST says otherwise, and
 * then only with a credential). `home` is the data directory, where the session secret is kept.
 */
export async function startServer(cfg: ServerConfig, home: string): Promise<RunningServer> {
  const { host: hostname, port } = cfg;
  // Before Next.js starts: a bad secret file should stop the server, not fail every request.
  const gate = new AuthGate(cfg, home, { health });
  const app = next({ dev: false, dir: PROJECT_ROOT, hostname, port });
  const handle = app.getRequestHandler();
  await app.prepare();
  const server = http.createServer((req, res) => {
    // Malformed paths and TRACE get their 4xx here, before anything else: Next.js would answer them
    // 500 (request-check.ts). Then every request, pages, API, the stream and Next's own files,
    // passes the gate.
    if (refuseBadRequest(req, res)) return;
    const work = gate.handle(req, res).then((answered) => {
      if (answered) return;
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
      const m = STREAM.exec(url.pathname);
      return m && (req.method === 'GET' || req.method === 'HEAD') ? streamRoute(req, res, url, m[1]) : handle(req, res);
    });
    work.catch((err) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'internal server error' }));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => resolve());
  });
  const address = server.address() as import('node:net').AddressInfo;
  const shown = hostname === '0.0.0.0' || hostname === '::' ? 'localhost' : hostname.includes(':') ? `[${hostname}]` : hostname;
  return {
    url: `http://${shown}:${address.port}`,
    address,
    authentication: [cfg.password !== undefined && 'password', cfg.apiToken !== undefined && 'API token'].filter(Boolean).join(' and ') || 'none',
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}

// Run directly (tests, scripts/serve.ts): HOST, PORT and the credentials from the environment.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/scripts\//, '/scripts/'))) {
  let cfg: ServerConfig;
  let home: string;
  let engineCfg: Config;
  try {
    // The process's copy, which the pages and routes read (services/config.ts processConfig).
    cfg = processServerConfig();
    engineCfg = processConfig();
    home = engineCfg.home;
  } catch (err) {
    // Before listening: nothing is exposed, and the message says what to set.
    console.error(`vidsearch: ${errorMessage(err)}`);
    process.exit(2);
  }
  // Now rather than at the first page view: a fresh install's download starts with `npm start`.
  // The pages read the same instance (it lives on globalThis), so there is one download.
  const provision = modelProvision(engineCfg);
  const running = await startServer(cfg, home);
  console.log(`listening on ${running.url} (bound to ${running.address.address}:${running.address.port}; sign-in: ${running.authentication})`);
  const stop = async () => {
    provision.stop();
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
