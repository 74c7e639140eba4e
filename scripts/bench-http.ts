// Measures the HTTP API through the real server (`next build` when needed, then `next start` on a
// free local port): /api/search latency on a synthetic index, and the stream route serving a large
// file (server RSS before, during and after; aborted downloads must not leak open files).
//
//   node --import tsx scripts/bench-http.ts [--segments 10000] [--queries 200] [--stream-mb 1024] [--keep]
//
// The index is synthesized through the store (random unit vectors for the test model, 100 segments
// and 1,000 frames a video), so it measures serving, not indexing. The big file is real bytes on
// disk; a second read of it may come from the page cache, which RSS does not count.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig, openEngine, recordLibraryRoots, PROJECT_ROOT, type VideoProbe, l2normalize } from '../indexer/index';
import { TEST_DIM, buildTestModel } from '../indexer/testkit';
import { needsBuild, next } from './serve';

const { values: args } = parseArgs({
  options: {
    segments: { type: 'string', default: '10000' },
    queries: { type: 'string', default: '200' },
    'stream-mb': { type: 'string', default: '1024' },
    keep: { type: 'boolean', default: false },
  },
});
const SEGMENTS = Number(args.segments);
const QUERIES = Number(args.queries);
const STREAM_BYTES = Number(args['stream-mb']) * 1024 * 1024;
const SEGMENTS_PER_VIDEO = 100;
const FRAMES_PER_SEGMENT = 10;

const log = (s: string) => process.stderr.write(`${s}\n`);
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x: number) => `${x.toFixed(1)} ms`;

function randomUnit(): Float32Array {
  const v = new Float32Array(TEST_DIM);
  for (let i = 0; i < TEST_DIM; i++) v[i] = Math.random() * 2 - 1;
  return l2normalize(v);
}

const fakeProbe = (duration: number): VideoProbe => ({ duration, width: 1280, height: 720, rotation: 0, fps: 25, codec: 'h264', hasAudio: false, videoStreams: 1, formatName: 'mov,mp4,m4a,3gp,3g2,mj2' });

/** Returns the id of the big file's video. */
async function synthesize(home: string, modelDir: string, bigFile: string): Promise<number> {
  const cfg = resolveConfig({ home, model: modelDir, threads: 1 }, {});
  const engine = await openEngine(cfg, { writer: true });
  try {
    for (let v = 0; v * SEGMENTS_PER_VIDEO < SEGMENTS; v++) {
      const n = Math.min(SEGMENTS_PER_VIDEO, SEGMENTS - v * SEGMENTS_PER_VIDEO);
      const segments = Array.from({ length: n }, (_, idx) => ({ idx, start: idx * 10, end: idx * 10 + 10, frameCount: FRAMES_PER_SEGMENT, vector: randomUnit() }));
      const frames = segments.flatMap((s) => Array.from({ length: FRAMES_PER_SEGMENT }, (_, i) => ({ time: s.start + i, segmentIdx: s.idx, vector: randomUnit() })));
      await engine.store.saveIndexed({ path: `/bench/video-${String(v).padStart(4, '0')}.mp4`, size: 1e6, mtimeMs: 0, probe: fakeProbe(n * 10), frames, segments, video: randomUnit() });
    }
    const st = fs.statSync(bigFile);
    const saved = await engine.store.saveIndexed({
      path: bigFile,
      size: st.size,
      mtimeMs: Math.floor(st.mtimeMs),
      probe: fakeProbe(600),
      frames: [{ time: 0, segmentIdx: 0, vector: randomUnit() }],
      segments: [{ idx: 0, start: 0, end: 10, frameCount: 1, vector: randomUnit() }],
      video: randomUnit(),
    });
    // Made through the store, not `vidsearch index`: the file must be a library root to be served.
    await recordLibraryRoots(engine.store, [bigFile]);
    return saved.videoId;
  } finally {
    await engine.close();
  }
}

async function writeBigFile(file: string, bytes: number): Promise<void> {
  const block = crypto.randomBytes(1024 * 1024);
  const fd = fs.openSync(file, 'w');
  try {
    for (let written = 0; written < bytes; written += block.length) fs.writeSync(fd, block, 0, Math.min(block.length, bytes - written));
  } finally {
    fs.closeSync(fd);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The pids of `root` and all its descendants. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const visit = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  visit(root);
  return out;
}

function rssMb(root: number): number {
  let kb = 0;
  for (const pid of processTree(root)) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

function openHandles(root: number, file: string): number {
  let n = 0;
  for (const pid of processTree(root)) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file) n++;
      } catch {
        // closed meanwhile
      }
    }
  }
  return n;
}

async function main(): Promise<void> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-bench-http-'));
  const modelDir = path.join(home, 'model');
  const bigFile = path.join(home, 'big.mp4');
  let server: ReturnType<typeof spawn> | undefined;
  try {
    log(`data directory ${home}`);
    await buildTestModel(modelDir);
    let t = performance.now();
    await writeBigFile(bigFile, STREAM_BYTES);
    log(`wrote ${STREAM_BYTES / 2 ** 20} MiB in ${ms(performance.now() - t)}`);
    t = performance.now();
    const bigId = await synthesize(home, modelDir, bigFile);
    log(`synthesized ${SEGMENTS} segments, ${SEGMENTS * FRAMES_PER_SEGMENT} frames in ${ms(performance.now() - t)}`);

    const env = { ...process.env, VIDSEARCH_HOME: home, VIDSEARCH_MODEL: modelDir, VIDSEARCH_THREADS: '1', NEXT_TELEMETRY_DISABLED: '1' };
    if (needsBuild()) {
      t = performance.now();
      const code = await next(['build'], env);
      if (code !== 0) throw new Error(`next build failed with ${code}`);
      log(`next build: ${ms(performance.now() - t)}`);
    }
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/next/dist/bin/next'), 'start', '-p', String(port), '-H', '127.0.0.1'], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
      detached: true,
    });
    const pid = server.pid!;
    t = performance.now();
    for (;;) {
      const ok = await fetch(`${base}/api/health`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (performance.now() - t > 60_000) throw new Error('the server did not become healthy within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    log(`server healthy after ${ms(performance.now() - t)} (engine opened, index loaded)`);

    // Search: distinct queries, so every request runs the text encoder as well as the k-NN.
    const colors = ['red', 'green', 'blue', 'yellow', 'magenta', 'orange', 'purple', 'white', 'black'];
    const query = (i: number) => encodeURIComponent(`a ${colors[i % colors.length]} thing number ${i}`);
    for (let i = 0; i < 20; i++) await (await fetch(`${base}/api/search?q=warm${i}&k=10`)).json();
    const wall: number[] = [];
    const took: number[] = [];
    for (let i = 0; i < QUERIES; i++) {
      const started = performance.now();
      const res = await fetch(`${base}/api/search?q=${query(i)}&k=10`);
      const body = (await res.json()) as { tookMs: number; results: unknown[] };
      wall.push(performance.now() - started);
      if (res.status !== 200 || body.results.length !== 10) throw new Error(`search ${i}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
      took.push(body.tookMs);
    }
    const search = { p50: percentile(wall, 50), p90: percentile(wall, 90), p99: percentile(wall, 99), serverTookP50: percentile(took, 50) };
    log(`search over HTTP, ${QUERIES} queries, k=10, ${SEGMENTS} segments: p50 ${ms(search.p50)}, p90 ${ms(search.p90)}, p99 ${ms(search.p99)} (engine's tookMs p50 ${ms(search.serverTookP50)})`);

    // Stream the big file whole, sampling the server's memory meanwhile.
    const streamUrl = `${base}/api/videos/${bigId}/stream`;
    const rssBefore = rssMb(pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb(pid))), 100);
    t = performance.now();
    const res = await fetch(streamUrl);
    let received = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) received += chunk.length;
    const seconds = (performance.now() - t) / 1000;
    clearInterval(sampler);
    const rssAfter = rssMb(pid);
    if (res.status !== 200 || received !== STREAM_BYTES) throw new Error(`stream: ${res.status}, ${received} bytes`);
    log(`stream ${STREAM_BYTES / 2 ** 20} MiB: ${(STREAM_BYTES / 2 ** 20 / seconds).toFixed(0)} MiB/s; server RSS before ${rssBefore.toFixed(0)} MB, peak ${rssPeak.toFixed(0)} MB, after ${rssAfter.toFixed(0)} MB`);

    // A range at the end, then downloads abandoned midway: the server must close the file each time.
    const tail = await fetch(streamUrl, { headers: { range: 'bytes=-1000000' } });
    const tailBytes = (await tail.arrayBuffer()).byteLength;
    const tailRange = `bytes ${STREAM_BYTES - 1_000_000}-${STREAM_BYTES - 1}/${STREAM_BYTES}`;
    if (tail.status !== 206 || tailBytes !== 1_000_000 || tail.headers.get('content-range') !== tailRange) {
      throw new Error(`range: ${tail.status}, ${tailBytes} bytes, ${tail.headers.get('content-range')}`);
    }
    const head = await fetch(streamUrl, { method: 'HEAD' });
    if (head.status !== 200 || head.headers.get('accept-ranges') !== 'bytes' || (await head.arrayBuffer()).byteLength !== 0) {
      throw new Error(`HEAD: ${head.status}, accept-ranges ${head.headers.get('accept-ranges')}`);
    }
    // Next.js (16.4, send-response.js) drops Content-Length from every route handler response.
    log(`Content-Length over HTTP: GET ${res.headers.get('content-length') ?? 'absent'}, Range ${tail.headers.get('content-length') ?? 'absent'}, HEAD ${head.headers.get('content-length') ?? 'absent'}`);
    for (let i = 0; i < 20; i++) {
      const ctrl = new AbortController();
      const r = await fetch(streamUrl, { signal: ctrl.signal });
      const reader = r.body!.getReader();
      for (let got = 0; got < 8 * 2 ** 20; ) got += ((await reader.read()).value?.length ?? 0);
      ctrl.abort();
      await reader.cancel().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 1000));
    const handles = openHandles(pid, bigFile);
    const healthy = (await fetch(`${base}/api/health`)).status === 200;
    log(`20 downloads aborted after 8 MiB: ${handles} open handles on the file afterwards, server healthy: ${healthy}, RSS ${rssMb(pid).toFixed(0)} MB`);

    // Over real HTTP, the router decodes and normalizes the path before the handler sees an id.
    const attempts = ['..%2F..%2Fetc%2Fpasswd', '%2e%2e', '..', '-1', '1e3', '0x1', `${bigId}%2F..%2F..%2Fetc%2Fpasswd`];
    const statuses = await Promise.all(attempts.map(async (a) => `${a} → ${(await fetch(`${base}/api/videos/${a}/stream`)).status}`));
    log(`traversal attempts: ${statuses.join(', ')}`);

    process.stdout.write(JSON.stringify({ segments: SEGMENTS, queries: QUERIES, search, stream: { mib: STREAM_BYTES / 2 ** 20, seconds, rssBefore, rssPeak, rssAfter, handlesAfterAborts: handles } }, null, 2) + '\n');
  } finally {
    if (server?.pid) {
      try {
        process.kill(-server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    if (!args.keep) fs.rmSync(home, { recursive: true, force: true });
  }
}

await main();
