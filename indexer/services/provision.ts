// Getting the model in place for the web server. On a fresh install the registry's model is
// missing; rather than a page that says "run this, then restart", the server downloads it in the
// background with `models pull`'s downloader (resumable, checksummed) and reports how far it got,
// and search opens once it is there, without a restart.
import fs from 'node:fs';
import path from 'node:path';
import { pullModel, fileUrl, resolveEndpoint, type PullProgress } from '../../models/pull';
import { REGISTRY, type ModelSpec } from '../../models/registry';
import type { Config } from './config';
import { errorMessage } from '../core/errors';
import { logOnce } from '../io/files/log-once';
import { locateModel, resolveModelDir } from '../io/onnx/model';

/**
 * ready: the model's files are in place (loading may still fail: the engine says why).
 * downloading: the server is fetching it. offline: no network answered; the server tries again.
 * failed: the download failed otherwise (HTTP error, checksum). missing: not there, and the
 * server does not download it (a model folder given by path, or VIDSEARCH_AUTO_PULL=0).
 */
export type ModelPhase = 'ready' | 'downloading' | 'offline' | 'failed' | 'missing';

export interface ModelDownload {
  /** the file being fetched now */
  file?: string;
  bytesDone: number;
  /** undefined until the server said how large every file is */
  bytesTotal?: number;
  percent?: number;
  /** over the last few seconds */
  bytesPerSecond?: number;
  etaSeconds?: number;
}

/** A file to fetch by hand: its path in the model folder, where to get it, where to put it. */
export interface OfflineFile {
  path: string;
  url: string;
  target: string;
}

export interface ModelState {
  phase: ModelPhase;
  /** VIDSEARCH_MODEL as configured */
  model: string;
  variant: string;
  dir: string;
  /** whether the server downloads this model when it is missing */
  autoPull: boolean;
  /** what is wrong and what to do, in the engine's words (missing, offline, failed) */
  message?: string;
  download?: ModelDownload;
  /** where it downloads from (HF_ENDPOINT / VIDSEARCH_HF_ENDPOINT or huggingface.co) */
  endpoint?: string;
  /** offline: each file to fetch on a connected machine, and the exact path to place it at */
  files?: OfflineFile[];
  /** offline or after a lost connection: when the next try starts (ms since the epoch) */
  retryAt?: number;
}

// A lost transfer resumes from its .part, so trying again soon costs little; an unreachable
// network is looked at again twice a minute, so plugging the cable in is enough.
const RETRY_LOST_MS = 5_000;
const RETRY_OFFLINE_MS = 30_000;
const SPEED_WINDOW_MS = 5_000;

const log = (message: string) => logOnce(message, `vidsearch: ${message}`);

/** The registry entry the server may download for `cfg`, or undefined when it must not. */
function autoPullSpec(cfg: Config): ModelSpec | undefined {
  const spec = REGISTRY[cfg.model];
  // A name that resolves elsewhere than <modelsDir>/<name> is a path the user chose.
  if (!spec || !cfg.autoPull || resolveModelDir(cfg) !== path.join(cfg.modelsDir, spec.name)) return undefined;
  return spec;
}

export class ModelProvision {
  private current: ModelState;
  private running = false;
  /** (time, bytes done) at each progress event of the current download, for its speed */
  private samples: Array<{ t: number; bytes: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly cfg: Config) {
    const spec = autoPullSpec(cfg);
    this.current = { phase: 'missing', model: cfg.model, variant: cfg.variant, dir: resolveModelDir(cfg), autoPull: !!spec };
  }

  /** Looks at the model folder; starts the download when the model is missing and may be fetched. */
  start(): this {
    if (this.located() || this.running) return this;
    if (!this.current.autoPull) {
      try {
        locateModel(this.cfg);
      } catch (err) {
        this.current.message = errorMessage(err);
        log(this.current.message);
      }
      return this;
    }
    void this.run();
    return this;
  }

  /** A snapshot; a model placed by hand (or fixed) while not downloading is noticed here. */
  state(): ModelState {
    if (this.current.phase !== 'ready' && this.current.phase !== 'downloading') this.located();
    const snapshot = structuredClone(this.current);
    if (snapshot.phase === 'downloading' && snapshot.download) Object.assign(snapshot.download, this.rate(snapshot.download));
    return snapshot;
  }

  /**
   * Speed over the last few seconds up to now, not up to the last byte: a stalled transfer shows
   * its speed falling and its ETA growing instead of the figures of its last good second.
   */
  private rate(d: ModelDownload): Pick<ModelDownload, 'bytesPerSecond' | 'etaSeconds'> {
    const now = Date.now();
    while (this.samples.length > 2 && now - this.samples[1]!.t > SPEED_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    if (!first || now - first.t < 500) return {};
    const speed = ((d.bytesDone - first.bytes) * 1000) / (now - first.t);
    return { bytesPerSecond: speed, etaSeconds: d.bytesTotal && speed > 0 ? Math.max(0, (d.bytesTotal - d.bytesDone) / speed) : undefined };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.abort.abort();
  }

  private located(): boolean {
    try {
      locateModel(this.cfg);
    } catch {
      return false;
    }
    if (this.current.phase !== 'ready') {
      clearTimeout(this.timer);
      this.current = { ...this.current, phase: 'ready', message: undefined, files: undefined, retryAt: undefined };
    }
    return true;
  }

  private async run(): Promise<void> {
    const spec = REGISTRY[this.cfg.model]!;
    this.running = true;
    let endpoint: string;
    try {
      endpoint = resolveEndpoint();
    } catch (err) {
      this.fail('failed', errorMessage(err));
      this.running = false;
      return;
    }
    this.current.endpoint = endpoint;
    // Offline stays offline on screen while the next try is only knocking.
    if (this.current.phase === 'missing') this.current.phase = 'downloading';
    log(`model ${spec.name} is not in ${this.current.dir}: downloading it from ${endpoint} in the background; the web page shows its progress`);
    const files = spec.files.filter((f) => !f.variant || f.variant === this.cfg.variant);
    const sizes = await this.measure(endpoint, spec, files.map((f) => f.path));
    // Files already here (a resumed start, a retry after a lost connection) count as done: the
    // downloader skips them without a progress event.
    const finished = new Map(files.flatMap((f) => {
      const here = fs.statSync(path.join(this.current.dir, f.path), { throwIfNoEntry: false });
      return here?.isFile() ? [[f.path, here.size] as const] : [];
    }));
    this.samples = [];
    const onProgress = (p: PullProgress) => {
      if (p.done) finished.set(p.file, p.received);
      // fetched again after all (changed upstream, or not the recorded bytes): counted as it comes
      else finished.delete(p.file);
      if (p.total !== undefined) sizes.set(p.file, p.total);
      const done = [...finished.values()].reduce((a, b) => a + b, 0) + (p.done ? 0 : p.received);
      const total = files.every((f) => sizes.has(f.path)) ? files.reduce((a, f) => a + sizes.get(f.path)!, 0) : undefined;
      const now = Date.now();
      this.samples.push({ t: now, bytes: done });
      while (this.samples.length > 2 && now - this.samples[1]!.t > SPEED_WINDOW_MS) this.samples.shift();
      this.current.phase = 'downloading';
      this.current.message = undefined;
      this.current.files = undefined;
      this.current.retryAt = undefined;
      this.current.download = {
        file: p.done ? undefined : p.file,
        bytesDone: done,
        bytesTotal: total,
        percent: total ? Math.min(100, (100 * done) / total) : undefined,
      };
    };
    try {
      // Only the configured variant: the quantized pair `models pull` adds by default is 150 MB more to wait for.
      await pullModel({ name: spec.name, modelsDir: this.cfg.modelsDir, variants: [this.cfg.variant], endpoint, onProgress, signal: this.abort.signal });
      if (this.located()) log(`model ${spec.name} downloaded to ${this.current.dir}: search is ready`);
      else this.fail('failed', `model ${spec.name} was downloaded to ${this.current.dir} but is incomplete; run \`vidsearch models pull ${spec.name}\``);
    } catch (err) {
      if (this.abort.signal.aborted) return;
      const cause = (err as { cause?: { offline?: boolean; files?: OfflineFile[]; network?: string } }).cause;
      if (cause?.offline) {
        this.fail('offline', errorMessage(err), RETRY_OFFLINE_MS, cause.files);
      } else if (cause?.network) {
        // The connection dropped mid-file: keep showing the download, which resumes shortly.
        this.fail('downloading', errorMessage(err), RETRY_LOST_MS);
      } else {
        this.fail('failed', errorMessage(err));
      }
    } finally {
      this.running = false;
    }
  }

  private fail(phase: ModelPhase, message: string, retryMs?: number, files?: OfflineFile[]): void {
    this.current = { ...this.current, phase, message, files, retryAt: retryMs ? Date.now() + retryMs : undefined };
    log(message);
    if (retryMs) {
      clearTimeout(this.timer);
      // unref: a pending retry never keeps a finished process alive
      this.timer = setTimeout(() => this.start(), retryMs).unref();
    }
  }

  /**
   * Sizes of the files still to fetch (HEAD, redirects followed) and of those already here, so
   * that the percentage and ETA are over the whole model from the first byte. A failure here is
   * left to the download, which reports it with the offline instructions.
   */
  private async measure(endpoint: string, spec: ModelSpec, files: string[]): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    await Promise.all(
      files.map(async (file) => {
        const here = fs.statSync(path.join(this.current.dir, file), { throwIfNoEntry: false });
        if (here?.isFile()) return void sizes.set(file, here.size);
        try {
          const res = await fetch(fileUrl(endpoint, spec, file), { method: 'HEAD', signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(15_000)]) });
          const length = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
          if (res.ok && length && /^\d+$/.test(length)) sizes.set(file, Number(length));
        } catch {
          // unknown size: the total stays unknown until this file's transfer announces it
        }
      }),
    );
    return sizes;
  }
}

// One per server process (and per model setting), however many requests ask: Next.js bundles
// this module into several chunks, so the instance lives on globalThis.
const KEY = Symbol.for('vidsearch.modelProvision');
const g = globalThis as typeof globalThis & { [KEY]?: Map<string, ModelProvision> };

/** The model's state for `cfg`; the first call starts the download when one is due. */
export function modelProvision(cfg: Config): ModelProvision {
  const all = (g[KEY] ??= new Map());
  const key = [resolveModelDir(cfg), cfg.variant, cfg.autoPull].join('\0');
  let p = all.get(key);
  if (!p) all.set(key, (p = new ModelProvision(cfg).start()));
  return p;
}
