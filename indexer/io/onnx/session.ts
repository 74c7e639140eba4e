// ONNX Runtime sessions for the model (model.ts): created here or in a worker thread, checked for
// the inputs and outputs vidsearch feeds, created lazily on first use; and the cached file hashes
// that identify a model's files.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { ModelError, errorMessage } from '../../core/errors';
import { PROJECT_ROOT } from '../files/paths';

const requireFromRoot = createRequire(path.join(PROJECT_ROOT, 'package.json'));
let runtime: typeof Ort | undefined;

/**
 * ONNX Runtime, loaded on first use rather than imported: a one-query CLI search runs its text
 * encoder in a worker thread (which loads its own), and importing the binding in the main thread
 * first cost ~30 ms before that worker could start (npm run bench -- --only=cli).
 */
export function onnxRuntime(): typeof Ort {
  runtime ??= requireFromRoot('onnxruntime-node') as typeof Ort;
  return runtime;
}

/** An input as a session is fed it: what an ONNX Runtime tensor is made from. */
export type Feed = { type: 'float32'; data: Float32Array; dims: readonly number[] } | { type: 'int64'; data: BigInt64Array; dims: readonly number[] };

export const PULL_HINT = 'run `vidsearch models pull` or set VIDSEARCH_MODEL to a model folder';

/** sha256 of a file, cached by (path, size, mtime) so large models are hashed once. */
export async function fileHash(file: string, cacheFile: string | undefined): Promise<string> {
  const st = fs.statSync(file);
  const key = `${file}|${st.size}|${st.mtimeMs}`;
  let cache: Record<string, string> = {};
  if (cacheFile) {
    try {
      cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
    } catch {
      cache = {};
    }
    if (cache[key]) return cache[key];
  }
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  if (cacheFile) {
    cache[key] = digest;
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      fs.writeFileSync(tmp, JSON.stringify(cache, null, 1));
      fs.renameSync(tmp, cacheFile);
    } catch {
      // Only a cache (a full disk, a read-only data directory): the hash is recomputed next time.
      fs.rmSync(tmp, { force: true });
    }
  }
  return digest;
}

/** What the engine uses of an ONNX Runtime session, so that one can live in a worker thread. */
export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, Feed>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
  release(): Promise<void>;
}

/** A session in this thread: feeds become ONNX Runtime tensors here. */
class LocalSession implements Session {
  constructor(private readonly session: Ort.InferenceSession) {}
  get inputNames() {
    return this.session.inputNames;
  }
  get outputNames() {
    return this.session.outputNames;
  }
  run(feeds: Record<string, Feed>) {
    const ort = onnxRuntime();
    const tensors: Record<string, Ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) tensors[name] = f.type === 'float32' ? new ort.Tensor('float32', f.data, f.dims) : new ort.Tensor('int64', f.data, f.dims);
    return this.session.run(tensors);
  }
  release() {
    return this.session.release();
  }
}

// Runs in the worker: plain CommonJS, so it needs no TypeScript loader whatever started the process.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
let session;
parentPort.on('message', async (m) => {
  try {
    if (m.op === 'load') {
      session = await ort.InferenceSession.create(m.file, m.options);
      parentPort.postMessage({ id: m.id, ok: true, value: { inputNames: session.inputNames, outputNames: session.outputNames } });
    } else if (m.op === 'run') {
      const feeds = {};
      for (const [name, t] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const result = await session.run(feeds);
      const value = {};
      for (const [name, t] of Object.entries(result)) value[name] = { data: t.data, dims: t.dims };
      parentPort.postMessage({ id: m.id, ok: true, value });
    } else if (m.op === 'release') {
      if (session) await session.release();
      session = undefined;
      parentPort.postMessage({ id: m.id, ok: true });
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, ok: false, message: (err && err.message) || String(err) });
  }
});
`;

/**
 * An ONNX Runtime session in a worker thread. onnxruntime-node's run() is synchronous: on the main
 * thread, each image batch (seconds of work) would stop the event loop, and with it the reading of
 * ffmpeg's output, so decoding could never overlap inference. The worker is referenced only while
 * a call is in flight, so an idle model does not keep the process alive.
 */
class WorkerSession implements Session {
  inputNames: readonly string[] = [];
  outputNames: readonly string[] = [];
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;

  private constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ort: requireFromRoot.resolve('onnxruntime-node') } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; ok: boolean; value?: unknown; message?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.message));
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(new Error(`the inference worker failed: ${errorMessage(err)}`)));
    this.worker.on('exit', (code) => fail(new Error(`the inference worker exited (code ${code})`)));
  }

  static async create(file: string, options: Ort.InferenceSession.SessionOptions): Promise<WorkerSession> {
    const s = new WorkerSession();
    try {
      const names = await s.call<{ inputNames: string[]; outputNames: string[] }>({ op: 'load', file, options });
      s.inputNames = names.inputNames;
      s.outputNames = names.outputNames;
      return s;
    } catch (err) {
      await s.worker.terminate();
      throw err;
    }
  }

  private call<T>(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  run(feeds: Record<string, Feed>): Promise<Record<string, { data: unknown; dims: readonly number[] }>> {
    const plain: Record<string, { type: string; data: unknown; dims: readonly number[] }> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      plain[name] = { type: t.type, data: t.data, dims: t.dims };
      // The input buffers are handed over, not copied (the callers build fresh ones per call).
      const buffer = (t.data as ArrayBufferView).buffer;
      if (buffer instanceof ArrayBuffer && !transfer.includes(buffer)) transfer.push(buffer);
    }
    return this.call({ op: 'run', feeds: plain }, transfer);
  }

  async release(): Promise<void> {
    try {
      if (!this.failure) await this.call({ op: 'release' });
    } finally {
      await this.worker.terminate();
    }
  }
}

export async function createSession(
  file: string,
  threads: number,
  expectIn: string[],
  optionalIn: string[],
  expectOut: string,
  where: 'here' | 'worker' = 'here',
  prepack = true,
): Promise<Session> {
  let session: Session;
  try {
    const extra: Record<string, unknown> = {};
    if (!prepack) extra.disable_prepacking = '1';
    // The worker's session shares the cores with ffmpeg decoding the next frames: threads that
    // spin-wait between operators burn CPU the decoder needs. Alone it makes no difference to speed
    // (bench/); on a busy 2-core machine it used less CPU for the same batches.
    if (where === 'worker') extra.intra_op = { allow_spinning: '0' };
    const options: Ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session: extra } };
    session = where === 'worker' ? await WorkerSession.create(file, options) : new LocalSession(await onnxRuntime().InferenceSession.create(file, options));
  } catch (err) {
    throw new ModelError(`cannot load ${file}: ${errorMessage(err)}; the file may be truncated or not an ONNX model: ${PULL_HINT}`, {
      cause: { file },
    });
  }
  const unknown = session.inputNames.filter((n) => !expectIn.includes(n) && !optionalIn.includes(n));
  const missing = expectIn.filter((n) => !session.inputNames.includes(n));
  if (unknown.length || missing.length || !session.outputNames.includes(expectOut)) {
    await session.release();
    throw new ModelError(
      `${file} declares inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]; ` +
        `vidsearch needs inputs [${[...expectIn, ...optionalIn.map((n) => `${n}?`)].join(', ')}] and output ${expectOut} ` +
        `(the transformers.js CLIP export layout): use a CLIP model exported that way`,
      { cause: { file, inputs: session.inputNames, outputs: session.outputNames } },
    );
  }
  return session;
}

/**
 * A session created on first use, once, however many callers ask at the same time. A failed load
 * is not kept, so the next use tries again (a model file fixed meanwhile) and reports its error.
 */
export function lazySession(create: () => Promise<Session>): { get(): Promise<Session>; release(): Promise<void> } {
  let pending: Promise<Session> | undefined;
  return {
    get() {
      pending ??= create().catch((err) => {
        pending = undefined;
        throw err;
      });
      return pending;
    },
    async release() {
      const p = pending;
      pending = undefined;
      const session = await p?.catch(() => undefined);
      await session?.release();
    },
  };
}
