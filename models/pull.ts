// `vidsearch models pull`: fetch a registered model into <modelsDir>/<name>/ from a Hugging Face
// compatible host, resumably and verified, and the checks the model loader runs on what was pulled.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MODEL_VARIANTS as VARIANTS, type ModelVariant } from '../indexer/core/types';
import { hfEndpoint } from '../indexer/services/config';
import { DownloadError, ModelError, UsageError } from '../indexer/core/errors';
import { CLIP_LAYOUT, REGISTRY, type ModelFile, type ModelSpec } from './registry';

/** The variants `models pull` downloads unless told which. */
export const DEFAULT_PULL_VARIANTS: readonly ModelVariant[] = ['fp32', 'quantized'];

export const MANIFEST_FILE = 'vidsearch-manifest.json';
const DEFAULT_ENDPOINT = 'https://huggingface.co';
// A stalled connection otherwise hangs for undici's 5-minute body timeout; a minute without a
// byte is already a dead link, and the .part is kept so nothing is lost by giving up.
const IDLE_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 10;

export interface PullProgress {
  file: string;
  received: number;
  total?: number;
  done: boolean;
}

export interface PullOptions {
  name: string;
  modelsDir: string;
  /** default: env VIDSEARCH_HF_ENDPOINT ?? HF_ENDPOINT ?? https://huggingface.co */
  endpoint?: string;
  /** default: fp32 and quantized */
  variants?: ModelVariant[];
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
  /** replaces the registry entry (tests, private mirrors) */
  spec?: ModelSpec;
}

export interface PulledFile {
  path: string;
  sha256: string;
  size: number;
  skipped: boolean;
}

export interface Manifest {
  name: string;
  repo: string;
  revision: string;
  files: Record<string, { sha256: string; size: number; mtimeMs: number }>;
}

export async function pullModel(opts: PullOptions): Promise<{ dir: string; files: PulledFile[] }> {
  const spec = opts.spec ?? REGISTRY[opts.name];
  if (!spec) {
    throw new UsageError(
      `unknown model "${opts.name}": known models are ${Object.keys(REGISTRY).join(', ')}. ` +
        'A model folder of your own needs no pull: set VIDSEARCH_MODEL to its path.',
      { cause: { setting: 'model', value: opts.name } },
    );
  }
  const variants = opts.variants ?? DEFAULT_PULL_VARIANTS;
  for (const v of variants) {
    if (!VARIANTS.includes(v)) throw new UsageError(`variant must be one of ${VARIANTS.join(', ')}, got "${v}"`, { cause: { setting: 'variant', value: v } });
  }
  const endpoint = resolveEndpoint(opts.endpoint);
  const dir = path.join(opts.modelsDir, spec.name);
  await fs.mkdir(dir, { recursive: true });

  const previous = await readManifest(dir);
  // Entries recorded for another repo or revision describe other bytes: download again.
  const sameSource = previous?.repo === spec.repo && previous.revision === spec.revision;
  const manifest: Manifest = { name: spec.name, repo: spec.repo, revision: spec.revision, files: sameSource ? previous.files : {} };

  const wanted = spec.files.filter((f) => !f.variant || variants.includes(f.variant));
  const plan = await Promise.all(
    wanted.map(async (file) => {
      const rec = manifest.files[file.path];
      const size = await fileSize(path.join(dir, file.path));
      const complete = rec !== undefined && size === rec.size && (!file.sha256 || file.sha256 === rec.sha256);
      return { file, complete };
    }),
  );

  const results: PulledFile[] = [];
  for (const [i, { file, complete }] of plan.entries()) {
    const rec = manifest.files[file.path];
    if (complete && rec) {
      results.push({ path: file.path, sha256: rec.sha256, size: rec.size, skipped: true });
      continue;
    }
    const url = fileUrl(endpoint, spec, file.path);
    const target = path.join(dir, file.path);
    let got: { sha256: string; size: number };
    try {
      got = await downloadFile({ url, target, file, endpoint, name: spec.name, onProgress: opts.onProgress, signal: opts.signal });
    } catch (err) {
      if (!(err instanceof NetworkFailure)) throw err;
      const pending = plan.slice(i).filter((p) => !p.complete).map((p) => p.file);
      throw networkError(err, { endpoint, spec, dir, pending });
    }
    const { mtimeMs } = await fs.stat(target);
    manifest.files[file.path] = { sha256: got.sha256, size: got.size, mtimeMs };
    await writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest);
    results.push({ path: file.path, sha256: got.sha256, size: got.size, skipped: false });
  }
  return { dir, files: results };
}

/** The download endpoint: `given`, else HF_ENDPOINT / VIDSEARCH_HF_ENDPOINT (services/config.ts hfEndpoint), else huggingface.co. */
export function resolveEndpoint(given?: string): string {
  return hfEndpoint(given) ?? DEFAULT_ENDPOINT;
}

export function fileUrl(endpoint: string, spec: Pick<ModelSpec, 'repo' | 'revision'>, file: string): string {
  return `${endpoint}/${spec.repo}/resolve/${spec.revision}/${file}`;
}

/** The connection failed or dropped: distinct from HTTP and checksum errors, which retrying won't fix. */
class NetworkFailure extends Error {
  constructor(
    readonly reason: unknown,
    readonly file: string,
    /** bytes of this file on disk when the transfer broke; undefined when no response came */
    readonly received: number | undefined,
  ) {
    super('network failure', { cause: reason instanceof Error ? reason : undefined });
  }
}

function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: string; message?: string } | undefined;
  return [err.message, cause?.code ?? cause?.message].filter(Boolean).join(': ');
}

function networkError(err: NetworkFailure, ctx: { endpoint: string; spec: ModelSpec; dir: string; pending: ModelFile[] }): DownloadError {
  const { endpoint, spec, dir, pending } = ctx;
  const headline =
    err.received !== undefined
      ? `the connection to ${endpoint} was lost while downloading ${err.file} (${describeCause(err.reason)}); ` +
        `the ${err.received} bytes received are kept in ${path.join(dir, err.file)}.part: run \`vidsearch models pull ${spec.name}\` again to resume.`
      : `no network was reachable at ${endpoint} (${describeCause(err.reason)}).`;
  const targets = pending.map((f) => path.join(dir, f.path));
  const files = pending.map((f, i) => ({ path: f.path, url: fileUrl(endpoint, spec, f.path), target: targets[i]! }));
  const lines = files.map((f) => `  ${f.url}\n    -> ${f.target}`);
  return new DownloadError(
    `${headline}\n` +
      `To install ${spec.name} by hand, fetch these files of ${spec.repo} at revision ${spec.revision} on a connected ` +
      `machine and place them at exactly these paths (vidsearch then uses them as they are):\n${lines.join('\n')}\n` +
      `Or set HF_ENDPOINT (or VIDSEARCH_HF_ENDPOINT) to a reachable Hugging Face mirror and run \`vidsearch models pull ${spec.name}\` again.`,
    // offline: nothing answered at all (a lost transfer resumes on the next try); files: what to
    // place where by hand, for callers that show it otherwise than as text (the web app).
    { cause: { endpoint, file: err.file, network: describeCause(err.reason), targets, files, offline: err.received === undefined } },
  );
}

interface PartMeta {
  url: string;
  /** strong ETag or Last-Modified of the response that started the part, sent as If-Range */
  validator?: string;
  /** sha256 the server announced, kept for a resume whose response announces none */
  expected?: string;
  total?: number;
}

interface DownloadJob {
  url: string;
  target: string;
  file: ModelFile;
  endpoint: string;
  name: string;
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
}

async function downloadFile(job: DownloadJob): Promise<{ sha256: string; size: number }> {
  const { url, target, file, signal } = job;
  const part = `${target}.part`;
  const metaFile = `${part}.json`;
  await fs.mkdir(path.dirname(target), { recursive: true });

  const watchdog = new AbortController();
  const combined = signal ? AbortSignal.any([signal, watchdog.signal]) : watchdog.signal;
  let timer: NodeJS.Timeout | undefined;
  const kick = () => {
    clearTimeout(timer);
    timer = setTimeout(() => watchdog.abort(new DOMException(`no data for ${IDLE_TIMEOUT_MS / 1000} s`, 'TimeoutError')), IDLE_TIMEOUT_MS);
  };
  // Cancellation by the caller is theirs to report; everything else on the wire is a network failure.
  const failed = (err: unknown, received?: number): never => {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof DownloadError) throw err;
    throw new NetworkFailure(err, file.path, received);
  };

  try {
    // A part the server cannot continue is dropped for one fresh round, which never resumes and
    // so never comes back here.
    for (let round = 0; ; round++) {
      const partSize = (await fileSize(part)) ?? 0;
      const meta = round === 0 && partSize > 0 ? await readJson<PartMeta>(metaFile) : undefined;
      // Without a validator a changed file upstream would be spliced onto the old part unnoticed.
      const resume = meta?.url === url && meta.validator !== undefined;
      const headers: Record<string, string> = resume ? { range: `bytes=${partSize}-`, 'if-range': meta.validator! } : {};

      kick();
      let reply: Awaited<ReturnType<typeof request>>;
      try {
        reply = await request(url, headers, combined);
      } catch (err) {
        return failed(err);
      }
      const { res, announced } = reply;
      const expected = file.sha256 ?? announced ?? (resume ? meta.expected : undefined);

      if (resume && res.status === 416) {
        // The part may already hold the whole file (a crash between the last byte and the rename).
        await res.body?.cancel();
        const total = contentRange(res)?.total ?? meta.total;
        if (total === partSize) {
          const hash = createHash('sha256');
          await hashFile(hash, part);
          const sha256 = hash.digest('hex');
          if (!expected || sha256 === expected) return await finish(part, metaFile, target, sha256, partSize, job);
        }
        await removePart(part);
        continue;
      }

      let append = false;
      if (resume && res.status === 206) {
        append = contentRange(res)?.start === partSize;
        if (!append) {
          await res.body?.cancel();
          await removePart(part);
          continue;
        }
      } else if (res.status !== 200) {
        await res.body?.cancel();
        throw statusError(res.status, url, job.endpoint);
      }

      const hash = createHash('sha256');
      let total: number | undefined;
      if (append) {
        await hashFile(hash, part);
        total = contentRange(res)?.total ?? meta!.total;
      } else {
        total = numberHeader(res, 'content-length');
        const validator = strongEtag(res.headers.get('etag')) ?? res.headers.get('last-modified') ?? undefined;
        await fs.writeFile(metaFile, JSON.stringify({ url, validator, expected, total } satisfies PartMeta));
      }
      const received = await streamTo(res, part, append ? partSize : 0, hash, total, job, kick, failed);
      if (total !== undefined && received !== total) {
        failed(new Error(`the server closed the transfer at ${received} of ${total} bytes`), received);
      }
      const sha256 = hash.digest('hex');
      if (expected && sha256 !== expected) {
        await removePart(part);
        throw new DownloadError(
          `checksum mismatch for ${file.path}: expected ${expected}, got ${sha256}; the partial file was removed, run \`vidsearch models pull ${job.name}\` again`,
          { cause: { url, file: file.path, expected, actual: sha256 } },
        );
      }
      return await finish(part, metaFile, target, sha256, received, job);
    }
  } finally {
    clearTimeout(timer);
  }
}

/** GET following redirects by hand: Hugging Face announces an LFS file's sha256 only on the redirect. */
async function request(start: string, headers: Record<string, string>, signal: AbortSignal): Promise<{ res: Response; announced?: string }> {
  let url = start;
  let linked: string | undefined;
  let etag: string | undefined;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await fetch(url, { headers, signal, redirect: 'manual' });
    linked ??= sha256Header(res.headers.get('x-linked-etag'));
    etag ??= sha256Header(res.headers.get('etag'));
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      url = new URL(location, url).href;
      continue;
    }
    return { res, announced: linked ?? etag };
  }
  throw new DownloadError(`${start}: more than ${MAX_REDIRECTS} redirects; check HF_ENDPOINT`, { cause: { url: start } });
}

async function streamTo(
  res: Response,
  part: string,
  offset: number,
  hash: Hash,
  total: number | undefined,
  job: DownloadJob,
  kick: () => void,
  failed: (err: unknown, received: number) => never,
): Promise<number> {
  const fh = await fs.open(part, offset > 0 ? 'a' : 'w');
  let received = offset;
  const reader = res.body?.getReader();
  let finished = !reader;
  try {
    job.onProgress?.({ file: job.file.path, received, total, done: false });
    while (reader) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        await fh.sync();
        return failed(err, received);
      }
      if (chunk.done) {
        finished = true;
        break;
      }
      kick();
      for (let off = 0; off < chunk.value.byteLength; ) off += (await fh.write(chunk.value, off)).bytesWritten;
      hash.update(chunk.value);
      received += chunk.value.byteLength;
      job.onProgress?.({ file: job.file.path, received, total, done: false });
    }
    await fh.sync();
    return received;
  } finally {
    if (!finished) await reader?.cancel().catch(() => {});
    await fh.close();
  }
}

async function finish(part: string, metaFile: string, target: string, sha256: string, size: number, job: DownloadJob) {
  // fsync happened in streamTo (or the part predates this run and was synced then).
  await fs.rename(part, target);
  await fs.rm(metaFile, { force: true });
  job.onProgress?.({ file: job.file.path, received: size, total: size, done: true });
  return { sha256, size };
}

function statusError(status: number, url: string, endpoint: string): DownloadError {
  const cause = { url, status };
  if (status === 404) return new DownloadError(`${url}: HTTP 404, not found on ${endpoint} — check the name/revision or HF_ENDPOINT`, { cause });
  if (status === 401 || status === 403) {
    return new DownloadError(
      `${url}: HTTP ${status}, access refused by ${endpoint}: the repository is private or gated, or does not exist there — check the name/revision or HF_ENDPOINT`,
      { cause },
    );
  }
  if (status >= 500) return new DownloadError(`${url}: HTTP ${status}, the server at ${endpoint} failed; try again later or set HF_ENDPOINT to a mirror`, { cause });
  return new DownloadError(`${url}: unexpected HTTP ${status} from ${endpoint}`, { cause });
}

function sha256Header(value: string | null): string | undefined {
  const m = value?.trim().match(/^(?:W\/)?"?([0-9a-f]{64})"?$/i);
  return m?.[1]?.toLowerCase();
}

function strongEtag(value: string | null): string | undefined {
  return value && !value.startsWith('W/') ? value : undefined;
}

function numberHeader(res: Response, name: string): number | undefined {
  const v = res.headers.get(name);
  return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
}

function contentRange(res: Response): { start?: number; total?: number } | undefined {
  const m = res.headers.get('content-range')?.match(/^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/);
  if (!m) return undefined;
  return { start: m[1] === undefined ? undefined : Number(m[1]), total: m[2] === '*' ? undefined : Number(m[2]) };
}

async function removePart(part: string): Promise<void> {
  await fs.rm(part, { force: true });
  await fs.rm(`${part}.json`, { force: true });
}

async function hashFile(hash: Hash, file: string): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}

async function fileSize(file: string): Promise<number | undefined> {
  try {
    const st = await fs.stat(file);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    // missing or torn (crash mid-write): treated as absent, which only costs a re-download
    return undefined;
  }
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(value, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  const m = await readJson<Manifest>(path.join(dir, MANIFEST_FILE));
  return m && typeof m.files === 'object' && m.files !== null ? m : undefined;
}

/**
 * Checks pulled files against the sha256 recorded at download. Unchanged size and mtime are taken
 * as proof (hashing 350 MB at every start would cost seconds); anything else is re-hashed.
 */
export async function verifyModelFiles(dir: string, paths: string[]): Promise<void> {
  const manifest = await readManifest(dir);
  if (!manifest) return;
  let touched = false;
  for (const p of paths) {
    const rec = manifest.files[p];
    if (!rec) continue;
    const file = path.join(dir, p);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st) throw new ModelError(`${p} is missing from ${dir}: run \`vidsearch models pull ${manifest.name}\` again`, { cause: { dir, file: p } });
    if (st.size === rec.size && st.mtimeMs === rec.mtimeMs) continue;
    const hash = createHash('sha256');
    await hashFile(hash, file);
    const actual = hash.digest('hex');
    if (actual !== rec.sha256) {
      throw new ModelError(
        `${p} in ${dir} does not match the sha256 recorded when it was downloaded (file changed or corrupted): run \`vidsearch models pull ${manifest.name}\` again`,
        { cause: { dir, file: p, expected: rec.sha256, actual } },
      );
    }
    rec.mtimeMs = st.mtimeMs;
    touched = true;
  }
  if (touched) {
    // Only saves the next start a re-hash; a read-only model folder must still load.
    await writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest).catch(() => {});
  }
}

export interface ListedModel {
  name: string;
  dir: string;
  /** the shared files and at least one complete variant are present */
  installed: boolean;
  /** variants whose files are all present */
  variants: string[];
  description?: string;
}

export async function listModels(modelsDir: string): Promise<ListedModel[]> {
  const out: ListedModel[] = [];
  for (const spec of Object.values(REGISTRY)) {
    out.push({ name: spec.name, ...(await inspect(path.join(modelsDir, spec.name), spec.files)), description: spec.description });
  }
  const entries = await fs.readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isDirectory() || REGISTRY[e.name]) continue;
    const dir = path.join(modelsDir, e.name);
    if ((await fileSize(path.join(dir, 'config.json'))) === undefined) continue;
    out.push({ name: e.name, ...(await inspect(dir, CLIP_LAYOUT)) });
  }
  return out;
}

async function inspect(dir: string, files: ModelFile[]): Promise<{ dir: string; installed: boolean; variants: string[] }> {
  const present = new Set<string>();
  await Promise.all(files.map(async (f) => ((await fileSize(path.join(dir, f.path))) !== undefined ? present.add(f.path) : undefined)));
  const shared = files.filter((f) => !f.variant).every((f) => present.has(f.path));
  const variants = VARIANTS.filter((v) => {
    const own = files.filter((f) => f.variant === v);
    return own.length > 0 && own.every((f) => present.has(f.path));
  });
  return { dir, installed: shared && variants.length > 0, variants };
}

function formatMB(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/**
 * An onProgress callback for a terminal: one redrawn line per file on a TTY (at most ~10 redraws
 * a second, so a fast mirror does not flood the terminal), one line per finished file otherwise.
 */
export function renderProgress(stream: NodeJS.WriteStream): (p: PullProgress) => void {
  // Speed counts only this run's bytes, or a resumed file would show an absurd rate.
  const starts = new Map<string, { t: number; bytes: number }>();
  let lastDraw = 0;
  return (p) => {
    const now = Date.now();
    let start = starts.get(p.file);
    if (!start) starts.set(p.file, (start = { t: now, bytes: p.received }));
    if (!stream.isTTY) {
      if (p.done) stream.write(`${p.file}  ${formatMB(p.received)} MB\n`);
      return;
    }
    if (!p.done && now - lastDraw < 100) return;
    lastDraw = now;
    const rate = (p.received - start.bytes) / Math.max((now - start.t) / 1000, 1e-3);
    const parts = [p.file];
    if (p.total) parts.push(`${Math.floor((100 * p.received) / p.total)}%`.padStart(4));
    parts.push(`${formatMB(p.received)}${p.total ? `/${formatMB(p.total)}` : ''} MB`, `${formatMB(rate)} MB/s`);
    if (p.total && !p.done && rate > 0) {
      const eta = Math.ceil((p.total - p.received) / rate);
      parts.push(`ETA ${Math.floor(eta / 60)}:${String(eta % 60).padStart(2, '0')}`);
    }
    const line = parts.join('  ').slice(0, (stream.columns || 80) - 1);
    stream.write(`\r${line}\x1b[K${p.done ? '\n' : ''}`);
  };
}
