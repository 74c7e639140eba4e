// The production HTTP server: Next.js for pages and routes, except the video stream, which is
// written here. `next start` (16.4) drops Content-Length from every route-handler response and
// sends bodies chunked; a player then cannot learn a file's size from a plain GET or HEAD. The
// stream route's own handler still does all the work (range parsing, lookup by id, validation):
// this server only writes its Response to the socket with the headers intact.
import http from 'node:http';
import { Readable } from 'node:stream';
import next from 'next';
import { GET, HEAD } from '../app/api/videos/[id]/stream/route';
import { PROJECT_ROOT } from '../indexer/paths';
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
  close(): Promise<void>;
}

export async function startServer({ port, hostname = '0.0.0.0' }: { port: number; hostname?: string }): Promise<RunningServer> {
  const app = next({ dev: false, dir: PROJECT_ROOT, hostname, port });
  const handle = app.getRequestHandler();
  await app.prepare();
  const server = http.createServer((req, res) => {
    // Malformed paths and TRACE get their 4xx here: Next.js would answer them 500 (request-check.ts).
    if (refuseBadRequest(req, res)) return;
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    const m = STREAM.exec(url.pathname);
    const work = m && (req.method === 'GET' || req.method === 'HEAD') ? streamRoute(req, res, url, m[1]) : handle(req, res);
    Promise.resolve(work).catch((err) => {
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
  return {
    url: `http://${hostname === '0.0.0.0' ? 'localhost' : hostname}:${address.port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    },
  };
}

// Run directly (tests, scripts/serve.ts): PORT and HOSTNAME from the environment.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/scripts\//, '/scripts/'))) {
  const running = await startServer({ port: Number(process.env.PORT || 3000), hostname: process.env.HOSTNAME || '0.0.0.0' });
  console.log(`listening on ${running.url}`);
  const stop = async () => {
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
