// A Hugging Face-like file host on 127.0.0.1 for download tests that need the server's own pull:
// it serves a model folder as <repo>/resolve/<revision>/<path> (ETag = sha256, as HF does for
// small files, so every file is checksummed), answers HEAD, sends bodies slowly, and can hold the
// transfer after some bytes so a test can look at the progress while it stands still.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface HfServer {
  endpoint: string;
  /** GET requests per file path */
  gets: Map<string, number>;
  /** bytes of bodies sent so far, all files together */
  sent(): number;
  /** lets a held transfer go on */
  release(): void;
  close(): Promise<void>;
}

export async function serveModelFolder(opts: {
  dir: string;
  repo: string;
  revision: string;
  /** body bytes per tick (default 16 KiB) */
  chunk?: number;
  /** ms between chunks (default 40) */
  tickMs?: number;
  /** stop sending once this many body bytes went out, until release() */
  holdAfter?: number;
  /** drop the connection of the first GET of `file` after `after` body bytes */
  cut?: { file: string; after: number };
}): Promise<HfServer> {
  const chunk = opts.chunk ?? 16 * 1024;
  const tickMs = opts.tickMs ?? 40;
  const prefix = `/${opts.repo}/resolve/${opts.revision}/`;
  const gets = new Map<string, number>();
  let sent = 0;
  let held = opts.holdAfter !== undefined;
  let wake: Array<() => void> = [];
  const server = http.createServer(async (req, res) => {
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const rel = url.startsWith(prefix) ? url.slice(prefix.length) : undefined;
    const file = rel && !rel.includes('..') ? path.join(opts.dir, rel) : undefined;
    if (!file || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) return void res.writeHead(404).end('not found');
    const body = fs.readFileSync(file);
    const etag = `"${createHash('sha256').update(body).digest('hex')}"`;
    res.writeHead(200, { 'content-length': body.length, etag });
    if (req.method === 'HEAD') return void res.end();
    gets.set(rel!, (gets.get(rel!) ?? 0) + 1);
    const cutAt = opts.cut && opts.cut.file === rel && gets.get(rel!) === 1 ? opts.cut.after : Infinity;
    for (let off = 0; off < body.length; off += chunk) {
      if (off >= cutAt) return void res.socket?.destroy();
      while (held && opts.holdAfter !== undefined && sent >= opts.holdAfter) await new Promise<void>((r) => wake.push(r));
      if (res.destroyed) return;
      const piece = body.subarray(off, off + chunk);
      sent += piece.length;
      res.write(piece);
      await new Promise((r) => setTimeout(r, tickMs));
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const release = () => {
    held = false;
    for (const w of wake) w();
    wake = [];
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    gets,
    sent: () => sent,
    release,
    async close() {
      release();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** An endpoint where nothing listens: connections are refused, as on a machine without network. */
export async function refusingEndpoint(): Promise<string> {
  const srv = http.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
