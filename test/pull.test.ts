// The downloader against a real local HTTP server that behaves like Hugging Face: LFS files
// redirect to a "CDN" path, with the sha256 only in the redirect's x-linked-etag; small files are
// served directly with ETag = sha256. The server can cut a connection or corrupt a body on demand.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { DownloadError, ModelError, UsageError } from '../indexer/core/errors';
import { MANIFEST_FILE, listModels, pullModel, readManifest, renderProgress, verifyModelFiles, type PullProgress } from '../models/pull';
import type { ModelSpec } from '../models/registry';

const REPO = 'test-org/tiny-clip';
const REV = '0123456789abcdef0123456789abcdef01234567';

const fixtures = new Map<string, Buffer>([
  ['config.json', Buffer.from(JSON.stringify({ projection_dim: 4, text_config: { max_position_embeddings: 77 } }))],
  ['tokenizer.json', Buffer.from(JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }))],
  ['onnx/text_model.onnx', randomBytes(300_000)],
  ['onnx/vision_model.onnx', randomBytes(400_000)],
  ['onnx/text_model_quantized.onnx', randomBytes(120_000)],
]);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const spec: ModelSpec = {
  name: 'tiny-clip',
  repo: REPO,
  revision: REV,
  description: 'test model',
  files: [
    { path: 'config.json' },
    { path: 'tokenizer.json' },
    { path: 'onnx/text_model.onnx', variant: 'fp32' },
    { path: 'onnx/vision_model.onnx', variant: 'fp32' },
    { path: 'onnx/text_model_quantized.onnx', variant: 'quantized' },
    // not on the server: pulling it would 404, so the default variants must leave it out
    { path: 'onnx/vision_model_fp16.onnx', variant: 'fp16' },
  ],
};

interface Behaviour {
  /** cut the connection after this many body bytes of the next response for that file */
  cut?: { file: string; after: number };
  /** serve this file with one byte flipped, still announcing the true hash */
  corrupt?: string;
}
let behaviour: Behaviour = {};
let log: Array<{ url: string; range?: string; ifRange?: string; status: number }> = [];
let bytesSent = new Map<string, number>();

function serveFile(req: http.IncomingMessage, res: http.ServerResponse, file: string, etag: string) {
  let body = fixtures.get(file)!;
  if (behaviour.corrupt === file) {
    body = Buffer.from(body);
    body[body.length >> 1]! ^= 0xff;
  }
  const size = body.length;
  let start = 0;
  const range = req.headers.range?.match(/^bytes=(\d+)-$/);
  const ifRange = req.headers['if-range'];
  if (range && (ifRange === undefined || ifRange === etag)) {
    start = Number(range[1]);
    if (start >= size) {
      res.writeHead(416, { 'content-range': `bytes */${size}`, etag });
      return res.end();
    }
    res.writeHead(206, { 'content-range': `bytes ${start}-${size - 1}/${size}`, 'content-length': size - start, etag });
  } else {
    res.writeHead(200, { 'content-length': size, etag });
  }
  const slice = body.subarray(start);
  const cut = behaviour.cut?.file === file ? behaviour.cut.after : undefined;
  if (cut !== undefined) {
    behaviour.cut = undefined;
    bytesSent.set(file, (bytesSent.get(file) ?? 0) + cut);
    res.write(slice.subarray(0, cut), () => res.socket?.destroy());
    return;
  }
  bytesSent.set(file, (bytesSent.get(file) ?? 0) + slice.length);
  res.end(slice);
}

const server = http.createServer((req, res) => {
  const url = decodeURIComponent(req.url ?? '');
  const entry = { url, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, status: 0 };
  log.push(entry);
  res.on('finish', () => (entry.status = res.statusCode));
  const resolve = url.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
  const cdn = url.match(/^\/cdn\/(.+)$/);
  const file = resolve?.[3] ?? cdn?.[1];
  if (!file || !fixtures.has(file) || (resolve && (resolve[1] !== REPO || resolve[2] !== REV))) {
    res.writeHead(404).end('Entry not found');
    return;
  }
  const hash = sha(fixtures.get(file)!);
  if (resolve && file.endsWith('.onnx')) {
    // Like the Hub: the LFS hash travels only on the redirect; the CDN's own ETag is not a sha256.
    res.writeHead(302, { location: `/cdn/${file}`, 'x-linked-etag': `"${hash}"` });
    res.end();
    return;
  }
  serveFile(req, res, file, cdn ? `"cdn-${hash.slice(0, 32)}"` : `"${hash}"`);
});

let endpoint = '';
let tmp = '';
let modelsDir = '';

before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'vidsearch-pull-'));
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await fs.rm(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  behaviour = {};
  log = [];
  bytesSent = new Map();
  modelsDir = await fs.mkdtemp(path.join(tmp, 'models-'));
});

const pull = (extra: Partial<Parameters<typeof pullModel>[0]> = {}) => pullModel({ name: spec.name, modelsDir, endpoint, spec, ...extra });
const exists = (p: string) => fs.stat(p).then(() => true, () => false);
const DEFAULT_FILES = ['config.json', 'tokenizer.json', 'onnx/text_model.onnx', 'onnx/vision_model.onnx', 'onnx/text_model_quantized.onnx'];

describe('pullModel', () => {
  test('pulls every file of the default variants, verified, with a manifest', async () => {
    const events: PullProgress[] = [];
    const result = await pull({ onProgress: (p) => events.push(p) });
    const dir = path.join(modelsDir, 'tiny-clip');
    assert.equal(result.dir, dir);
    assert.deepEqual(result.files.map((f) => f.path), DEFAULT_FILES);
    const manifest = await readManifest(dir);
    assert.equal(manifest?.repo, REPO);
    assert.equal(manifest?.revision, REV);
    for (const f of result.files) {
      const bytes = await fs.readFile(path.join(dir, f.path));
      assert.deepEqual(bytes, fixtures.get(f.path));
      assert.equal(f.sha256, sha(bytes));
      assert.equal(f.skipped, false);
      assert.deepEqual(manifest?.files[f.path] && { sha256: manifest.files[f.path]!.sha256, size: manifest.files[f.path]!.size }, { sha256: f.sha256, size: bytes.length });
      assert.equal(await exists(path.join(dir, `${f.path}.part`)), false);
    }
    assert.equal(await exists(path.join(dir, 'onnx/vision_model_fp16.onnx')), false);
    assert.deepEqual(events.filter((e) => e.done).map((e) => e.file), DEFAULT_FILES);
    assert.ok(log.some((r) => r.url.startsWith('/cdn/')), 'followed the redirects');
  });

  test('a re-run when complete skips everything without a request', async () => {
    await pull();
    log = [];
    const again = await pull();
    assert.ok(again.files.every((f) => f.skipped));
    assert.deepEqual(log, []);
  });

  test('a dropped connection keeps the part and the next pull resumes it with Range', async () => {
    const file = 'onnx/vision_model.onnx';
    const size = fixtures.get(file)!.length;
    behaviour.cut = { file, after: 150_000 };
    const dir = path.join(modelsDir, 'tiny-clip');
    await assert.rejects(pull(), (err: Error) => {
      assert.ok(err instanceof DownloadError);
      assert.match(err.message, /connection .* was lost while downloading onnx\/vision_model\.onnx/);
      assert.ok(err.message.includes(path.join(dir, file)), 'lists the file still to place');
      return true;
    });
    const partSize = (await fs.stat(path.join(dir, `${file}.part`))).size;
    assert.ok(partSize > 0 && partSize <= 150_000);
    // files finished before the failure are recorded, so they are not fetched again
    assert.ok((await readManifest(dir))?.files['onnx/text_model.onnx']);

    log = [];
    const result = await pull();
    assert.deepEqual(await fs.readFile(path.join(dir, file)), fixtures.get(file));
    assert.equal(result.files.find((f) => f.path === file)?.sha256, sha(fixtures.get(file)!));
    const cdnRequest = log.find((r) => r.url === `/cdn/${file}`);
    assert.equal(cdnRequest?.range, `bytes=${partSize}-`);
    assert.equal(cdnRequest?.status, 206);
    assert.ok(cdnRequest?.ifRange, 'If-Range sent with the recorded ETag');
    assert.ok(bytesSent.get(file)! < 2 * size, `sent ${bytesSent.get(file)} bytes for a ${size}-byte file`);
    assert.equal(await exists(path.join(dir, `${file}.part`)), false);
    assert.equal(await exists(path.join(dir, `${file}.part.json`)), false);
  });

  test('a part of a file that changed upstream is dropped, not spliced (If-Range → 200)', async () => {
    const file = 'onnx/text_model_quantized.onnx';
    const original = fixtures.get(file)!;
    behaviour.cut = { file, after: 50_000 };
    await assert.rejects(pull(), DownloadError);
    const replaced = randomBytes(original.length);
    fixtures.set(file, replaced);
    try {
      log = [];
      await pull();
      assert.equal(log.find((r) => r.url === `/cdn/${file}`)?.status, 200);
      assert.deepEqual(await fs.readFile(path.join(modelsDir, 'tiny-clip', file)), replaced);
    } finally {
      fixtures.set(file, original);
    }
  });

  test('a part that already holds the whole file is finished on a 416', async () => {
    const file = 'onnx/text_model.onnx';
    behaviour.cut = { file, after: 1000 };
    await assert.rejects(pull(), DownloadError);
    const dir = path.join(modelsDir, 'tiny-clip');
    // as if the last byte arrived and the process died before the rename
    await fs.writeFile(path.join(dir, `${file}.part`), fixtures.get(file)!);
    log = [];
    await pull();
    assert.equal(log.find((r) => r.url === `/cdn/${file}`)?.status, 416);
    assert.deepEqual(await fs.readFile(path.join(dir, file)), fixtures.get(file));
  });

  test('bytes that do not match the announced sha256 are rejected and removed', async () => {
    const file = 'onnx/vision_model.onnx';
    behaviour.corrupt = file;
    const dir = path.join(modelsDir, 'tiny-clip');
    await assert.rejects(pull(), (err: Error) => {
      assert.ok(err instanceof DownloadError);
      assert.match(err.message, new RegExp(`checksum mismatch for onnx/vision_model\\.onnx: expected ${sha(fixtures.get(file)!)}, got [0-9a-f]{64}`));
      return true;
    });
    assert.equal(await exists(path.join(dir, file)), false);
    assert.equal(await exists(path.join(dir, `${file}.part`)), false);
    assert.equal(await exists(path.join(dir, `${file}.part.json`)), false);
  });

  test('a missing file is a 404 naming the URL', async () => {
    await assert.rejects(pull({ variants: ['fp16'] }), (err: Error) => {
      assert.ok(err instanceof DownloadError);
      assert.ok(err.message.includes(`${endpoint}/${REPO}/resolve/${REV}/onnx/vision_model_fp16.onnx`));
      assert.match(err.message, /404/);
      assert.match(err.message, /HF_ENDPOINT/);
      return true;
    });
  });

  test('an unreachable endpoint says so and lists where to place each file', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const dead = `http://127.0.0.1:${port}`;
    await assert.rejects(pull({ endpoint: dead }), (err: Error) => {
      assert.ok(err instanceof DownloadError);
      assert.match(err.message, new RegExp(`no network was reachable at ${dead.replace(/\./g, '\\.')}`));
      for (const f of DEFAULT_FILES) assert.ok(err.message.includes(path.join(modelsDir, 'tiny-clip', f)), `lists ${f}`);
      assert.ok(!err.message.includes('vision_model_fp16'));
      assert.match(err.message, /VIDSEARCH_HF_ENDPOINT/);
      return true;
    });
  });

  test('an unknown model name lists the known ones', async () => {
    await assert.rejects(pullModel({ name: 'nope', modelsDir, endpoint }), (err: Error) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /clip-vit-base-patch32/);
      return true;
    });
  });
});

describe('verifyModelFiles', () => {
  test('accepts untouched files and rejects changed ones', async () => {
    const { dir } = await pull();
    await verifyModelFiles(dir, DEFAULT_FILES);

    // same bytes, newer mtime: re-hashed, accepted, and the new mtime recorded
    const touched = path.join(dir, 'onnx/text_model.onnx');
    const later = new Date(Date.now() + 60_000);
    await fs.utimes(touched, later, later);
    await verifyModelFiles(dir, DEFAULT_FILES);
    assert.equal((await readManifest(dir))?.files['onnx/text_model.onnx']?.mtimeMs, (await fs.stat(touched)).mtimeMs);

    const changed = path.join(dir, 'onnx/vision_model.onnx');
    const fh = await fs.open(changed, 'r+');
    await fh.write(Buffer.from([0x42, 0x42, 0x42]), 0, 3, 1000);
    await fh.close();
    const later2 = new Date(Date.now() + 120_000);
    await fs.utimes(changed, later2, later2);
    await assert.rejects(verifyModelFiles(dir, DEFAULT_FILES), (err: Error) => {
      assert.ok(err instanceof ModelError);
      assert.match(err.message, /onnx\/vision_model\.onnx .* does not match the sha256 recorded/);
      assert.match(err.message, /vidsearch models pull tiny-clip/);
      return true;
    });
    // files the manifest does not know, and folders without one, are taken as they are
    await verifyModelFiles(dir, ['preprocessor_config.json']);
    await fs.rm(path.join(dir, MANIFEST_FILE));
    await verifyModelFiles(dir, DEFAULT_FILES);
  });
});

describe('listModels', () => {
  test('lists the registry and hand-made folders with their variants', async () => {
    await pull({ variants: ['quantized'] });
    const own = path.join(modelsDir, 'my-model');
    await fs.mkdir(path.join(own, 'onnx'), { recursive: true });
    for (const f of ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/text_model.onnx', 'onnx/vision_model.onnx']) {
      await fs.writeFile(path.join(own, f), '{}');
    }
    await fs.mkdir(path.join(modelsDir, 'not-a-model'));
    const list = await listModels(modelsDir);
    const byName = new Map(list.map((m) => [m.name, m]));
    assert.deepEqual(byName.get('clip-vit-base-patch32')?.installed, false);
    assert.ok(byName.get('clip-vit-base-patch32')?.description);
    assert.deepEqual(byName.get('my-model'), { name: 'my-model', dir: own, installed: true, variants: ['fp32'] });
    // not registered, so judged by the contract's layout: no vision_model_quantized.onnx, no variant
    assert.deepEqual(byName.get('tiny-clip')?.variants, []);
    assert.equal(byName.get('tiny-clip')?.installed, false);
    assert.equal(byName.has('not-a-model'), false);
  });
});

describe('renderProgress', () => {
  const sink = (isTTY: boolean) => {
    const out: string[] = [];
    return { out, stream: { isTTY, columns: 100, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream };
  };

  test('prints one line per finished file off a terminal', () => {
    const { out, stream } = sink(false);
    const draw = renderProgress(stream);
    draw({ file: 'a.onnx', received: 0, total: 2e6, done: false });
    draw({ file: 'a.onnx', received: 1e6, total: 2e6, done: false });
    draw({ file: 'a.onnx', received: 2e6, total: 2e6, done: true });
    assert.deepEqual(out, ['a.onnx  2.0 MB\n']);
  });

  test('redraws one throttled line on a terminal', () => {
    const { out, stream } = sink(true);
    const draw = renderProgress(stream);
    for (let i = 0; i < 50; i++) draw({ file: 'a.onnx', received: i * 1e4, total: 1e6, done: false });
    draw({ file: 'a.onnx', received: 1e6, total: 1e6, done: true });
    assert.ok(out.length <= 3, `${out.length} writes`);
    assert.match(out.at(-1)!, /^\ra\.onnx\s+100%\s+1\.0\/1\.0 MB\s+[\d.]+ MB\/s\x1b\[K\n$/);
  });
});
