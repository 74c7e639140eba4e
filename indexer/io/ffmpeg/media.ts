// The ffmpeg boundary: every call to ffmpeg/ffprobe goes through here and comes back as domain
// types (VideoProbe, RawFrame) or a MediaError that says what is wrong with the file.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { MediaError, ToolError, UsageError } from '../../core/errors';
import { PROJECT_ROOT } from '../files/paths';
import type { RawFrame, VideoProbe, VideoSource } from '../../core/types';

export interface Tools {
  ffmpeg: string;
  ffprobe: string;
}

const DEFAULT_PROBE_TIMEOUT_MS = 30_000;
const DEFAULT_THUMBNAIL_TIMEOUT_MS = 30_000;
const DEFAULT_THUMBNAIL_WIDTH = 320;
const PACKET_SCAN_TIMEOUT_MS = 60_000;
// How much of a file with several video streams is read to tell stills from video.
const STILL_SCAN_SECONDS = 30;
const DECODE_NICENESS = 5;
const STDERR_TAIL_BYTES = 8 * 1024;
const ERROR_LINES = 3;

let tools: Tools | undefined;

/** The ffmpeg and ffprobe binaries: FFMPEG_PATH/FFPROBE_PATH, then ffmpeg-static, then the installer packages. */
export function resolveTools(): Tools {
  if (tools) return tools;
  // Resolve packages from the project root, not from this file: under Next.js this module is
  // bundled somewhere else and a require relative to it would not find node_modules.
  const require = createRequire(path.join(PROJECT_ROOT, 'package.json'));
  tools = {
    ffmpeg: findTool('ffmpeg', 'FFMPEG_PATH', [
      () => require('ffmpeg-static') as string | null,
      () => (require('@ffmpeg-installer/ffmpeg') as { path: string }).path,
    ]),
    ffprobe: findTool('ffprobe', 'FFPROBE_PATH', [() => (require('@ffprobe-installer/ffprobe') as { path: string }).path]),
  };
  return tools;
}

function findTool(name: string, envVar: string, candidates: Array<() => string | null>): string {
  const hint = `Set ${envVar} to an ${name} binary, or reinstall the dependencies (npm install).`;
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    // An explicit choice that does not work is an error, not a reason to silently use another binary.
    if (isExecutable(fromEnv)) return fromEnv;
    throw new ToolError(`${name} not found: ${envVar}=${fromEnv} is not an executable file. ${hint}`, { kind: 'missing', tool: name, path: fromEnv });
  }
  const tried: string[] = [];
  for (const candidate of candidates) {
    let file: string | null = null;
    try {
      file = candidate();
    } catch {
      continue; // package not installed (ffmpeg-static usually is not) or unsupported platform
    }
    if (file && isExecutable(file)) return file;
    if (file) tried.push(file);
  }
  throw new ToolError(`${name} not found${tried.length ? ` (not executable: ${tried.join(', ')})` : ''}. ${hint}`, { kind: 'missing', tool: name, path: tried[0] });
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Which binaries are in use, what they are, and what they decode: for `vidsearch stats` and `doctor`. */
export interface ToolReport {
  ffmpeg: { path: string; version: string };
  ffprobe: { path: string; version: string };
  /** for each codec a library is likely to hold, ffmpeg's decoders of it ([] when none) */
  decoders: Record<'h264' | 'hevc' | 'vp9' | 'av1', string[]>;
  /** the filters vidsearch uses for HDR (zscale, tonemap) and interlaced (bwdif) sources */
  filters: Record<'zscale' | 'tonemap' | 'bwdif', boolean>;
}

const REPORTED_CODECS = ['h264', 'hevc', 'vp9', 'av1'] as const;
let report: Promise<ToolReport> | undefined;
/** The tools in use, their versions and what they decode; asked once per process (cached). */
export function toolReport(): Promise<ToolReport> {
  report ??= (async () => {
    const { ffmpeg, ffprobe } = resolveTools();
    const [ffmpegVersion, ffprobeVersion, decoders, filters] = await Promise.all([
      toolVersion(ffmpeg) ?? 'unknown',
      toolVersion(ffprobe) ?? 'unknown',
      run(ffmpeg, ['-hide_banner', '-decoders'], ffmpeg, { timeoutMs: 10_000, tool: 'ffmpeg' }).then((r) => r.stdout),
      run(ffmpeg, ['-hide_banner', '-filters'], ffmpeg, { timeoutMs: 10_000, tool: 'ffmpeg' }).then((r) => r.stdout),
    ]);
    const byCodec = Object.fromEntries(REPORTED_CODECS.map((c) => [c, [] as string[]])) as ToolReport['decoders'];
    // " VFS..D h264   H.264 / AVC ..." or " V....D libdav1d   dav1d AV1 decoder (codec av1)"
    for (const line of decoders.split('\n')) {
      const m = /^ V\S{5} (\S+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const codec = /\(codec (\w+)\)\s*$/.exec(m[2])?.[1] ?? m[1];
      if ((REPORTED_CODECS as readonly string[]).includes(codec)) byCodec[codec as keyof ToolReport['decoders']].push(m[1]);
    }
    const hasFilter = (name: string) => new RegExp(`^ \\S+ ${name} `, 'm').test(filters);
    return {
      ffmpeg: { path: ffmpeg, version: ffmpegVersion },
      ffprobe: { path: ffprobe, version: ffprobeVersion },
      decoders: byCodec,
      filters: { zscale: hasFilter('zscale'), tonemap: hasFilter('tonemap'), bwdif: hasFilter('bwdif') },
    };
  })();
  report.catch(() => (report = undefined)); // a failed look is not cached
  return report;
}

/** The report as aligned lines, the same in `vidsearch stats` and `vidsearch doctor`. */
export function toolReportLines(r: ToolReport): string[] {
  const decodes = REPORTED_CODECS.map((c) => `${c} ${r.decoders[c].length ? `yes (${r.decoders[c].join(', ')})` : 'NO'}`).join(', ');
  const missing = Object.entries(r.filters).filter(([, ok]) => !ok).map(([name]) => name);
  return [
    `ffmpeg          ${r.ffmpeg.version} (${r.ffmpeg.path})`,
    `ffprobe         ${r.ffprobe.version} (${r.ffprobe.path})`,
    `decodes         ${decodes}`,
    ...(missing.length ? [`missing filters ${missing.join(', ')} (HDR tone-mapping needs zscale and tonemap; deinterlacing bwdif)`] : []),
  ];
}

const FILTER_NEEDS: Record<string, string> = {
  zscale: 'tone-mapping HDR video (zscale comes with --enable-libzimg)',
  tonemap: 'tone-mapping HDR video',
  bwdif: 'deinterlacing',
};

/** An ffmpeg without a filter this video needs (a build given by FFMPEG_PATH): the tool's shortfall, said as such. */
async function missingFilter(lines: string[], file: string): Promise<ToolError | undefined> {
  const name = lines.map((l) => /No such filter: '([\w-]+)'/.exec(l)?.[1]).find(Boolean);
  if (!name) return undefined;
  const bin = resolveTools().ffmpeg;
  const version = toolVersion(bin) ?? 'unknown';
  return new ToolError(
    `ffmpeg ${version} (${bin}) has no ${name} filter, needed for ${FILTER_NEEDS[name] ?? 'this video'}: set FFMPEG_PATH to a build that has it (the bundled one does)`,
    { kind: 'lacks-filter', tool: 'ffmpeg', path: bin, file, version, filter: name },
  );
}

// ffmpeg reads "name:rest" as a protocol when "name" is one (concat:, http:, ...); the explicit
// file: protocol makes any local path, including ones starting with "-", mean that file.
function inputUrl(file: string): string {
  return `file:${path.resolve(file)}`;
}

/**
 * The only demuxers ffmpeg and ffprobe may use, by ffmpeg's names (one name of a demuxer called
 * "mov,mp4,m4a,3gp,3g2,mj2" is enough). Each reads the one file it is given and nothing else, so a
 * file can never make ffmpeg read another one. A list of what is allowed rather than of what is
 * not: a demuxer that a newer ffmpeg adds stays closed until someone has looked at it. Left out
 * because they open files or URLs named inside the file: playlists (hls, dash, and the m3u/pls
 * kind), concat/ffconcat lists, image2 (turns "img%03d.png" or a glob into a sequence of other
 * files), subtitle and text formats, devices such as lavfi, and everything else.
 * The mov demuxer can follow external data references only with enable_drefs, off by default in
 * every ffmpeg that has it; it is not set explicitly because ffmpeg 4.1 (the bundled one) refuses
 * the option outright for any file that another demuxer reads ("Option enable_drefs not found").
 */
const PLAIN_DEMUXERS = [
  // containers
  'mov', // .mp4 .mov .m4v .3gp .qt
  'matroska', // .mkv .webm
  'avi',
  'flv', 'live_flv',
  'mpeg', // MPEG program stream: .mpg .mpeg .vob
  'mpegts', // .ts .mts .m2ts
  'asf', // .wmv .asf
  'ogg', // .ogv
  'mxf',
  'dv',
  'ivf', // VP8/VP9/AV1 in IVF
  'yuv4mpegpipe', // .y4m (one file despite the name)
  // raw elementary streams
  'h264', 'hevc', 'mpegvideo', 'm4v',
  // single pictures, only so that probe can say "still image" instead of "not a video file"
  'png_pipe', 'jpeg_pipe', 'bmp_pipe', 'webp_pipe', 'tiff_pipe',
] as const;

/**
 * Everything before and including `-i` for one file: the caller's input options, then what ffmpeg
 * may open (the file: protocol only, the demuxers above only), last so that nothing overrides it.
 * Every ffmpeg and ffprobe run on a file goes through here.
 */
function inputArgs(file: string, inputOptions: string[] = [], demuxers: readonly string[] = PLAIN_DEMUXERS): string[] {
  return [...inputOptions, '-protocol_whitelist', 'file', '-format_whitelist', demuxers.join(','), '-i', inputUrl(file)];
}

/** The single-picture demuxers of PLAIN_DEMUXERS: all a search image may be read with. */
const IMAGE_DEMUXERS = PLAIN_DEMUXERS.filter((d) => d.endsWith('_pipe'));

// What ffmpeg says when a demuxer or protocol is not allowed ("Format not on whitelist '...'").
const REFUSED = /not on whitelist/i;

/**
 * The one answer for a file whose format is not allowed, whatever it is and whatever it names:
 * nothing it refers to is opened, so nothing about those files (do they exist, are they videos)
 * can show in the answer.
 */
function refusedFormat(file: string, tool: string): MediaError {
  return new MediaError('not a video file: not a plain video container (playlists, lists of other files and image sequences are not opened)', {
    cause: { file, tool, allowed: PLAIN_DEMUXERS.join(',') },
  });
}

/** Keeps the last few KiB of a child's stderr: enough to explain a failure, bounded for long runs. */
class StderrTail {
  private text = '';
  constructor(
    private readonly input: string,
    private readonly bytes = STDERR_TAIL_BYTES,
  ) {}

  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-this.bytes);
  }

  /** Non-empty lines without the file name prefix and the pointer in "[h264 @ 0x55d1c0]". */
  lines(): string[] {
    const lines = this.text
      .split(/\r?\n/)
      .map((line) => line.replace(/ @ 0x[0-9a-f]+\]/i, ']').replace(`${this.input}: `, '').trim())
      .filter(Boolean);
    return lines.filter((line, i) => line !== lines[i - 1]);
  }

  last(n = ERROR_LINES): string {
    return this.lines().slice(-n).join('; ');
  }
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when the child has exited and its pipes are closed; a spawn failure becomes a ToolError. */
function exited(child: ChildProcess, tool: string): Promise<Exit> {
  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      const error = new ToolError(`cannot run ${tool}: ${err.message}. Set FFMPEG_PATH/FFPROBE_PATH or reinstall (npm install).`, { kind: 'cannot-run', tool, path: child.spawnfile }, { cause: err });
      child.stdout?.destroy(error);
      reject(error);
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

// A wrapper script (a shell, a snap) reports its tool's crash as exit 128 + the signal number.
const CRASH_SIGNALS: NodeJS.Signals[] = ['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT'];

function crashSignal(exit: Exit): NodeJS.Signals | undefined {
  if (exit.signal) return exit.signal;
  return CRASH_SIGNALS.find((sig) => exit.code === 128 + os.constants.signals[sig]);
}

const versions = new Map<string, string>();

/**
 * "4.1.4-static" from `<tool> -version`; undefined when the tool cannot even say that. Asked only
 * after a crash; a working answer is remembered, a broken one is not (the tool may be reinstalled
 * under a running daemon).
 */
function toolVersion(bin: string): string | undefined {
  if (!versions.has(bin)) {
    const r = spawnSync(bin, ['-version'], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) return undefined;
    versions.set(bin, /version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown version');
  }
  return versions.get(bin);
}

/**
 * A tool killed by a signal we did not send crashed (or was killed by the system): that is the
 * tool's failure, never the file's, even when this file provoked it. When the tool still answers
 * `-version` it crashed on this input: kind 'crashed', and the run goes on with other files.
 * When it does not, the tool itself is broken: kind 'cannot-run', which stops the run.
 */
function crashed(bin: string, tool: string, file: string, signal: NodeJS.Signals): ToolError {
  const version = toolVersion(bin);
  if (version === undefined) {
    return new ToolError(`${tool} is broken: it was killed by ${signal} and cannot run \`${bin} -version\` either. Set ${tool === 'ffprobe' ? 'FFPROBE_PATH' : 'FFMPEG_PATH'} to a working ${tool}`, { kind: 'cannot-run', tool, path: bin, file, signal });
  }
  return new ToolError(
    `${tool} ${version} crashed (signal ${signal}) on ${file}: a bug in ${tool}, not a verdict on the file; nothing was recorded against it, so it is tried again next time (a newer ${tool}, ${tool === 'ffprobe' ? 'FFPROBE_PATH' : 'FFMPEG_PATH'}, may read it)`,
    { kind: 'crashed', tool, path: bin, file, signal, version },
  );
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Runs a short-lived tool to completion, collecting stdout; kills it on abort or timeout. */
async function run(cmd: string, args: string[], input: string, opts: { signal?: AbortSignal; timeoutMs: number; tool: string; stderrBytes?: number }) {
  opts.signal?.throwIfAborted();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = exited(child, opts.tool);
  const stderr = new StderrTail(input, opts.stderrBytes);
  const stdout: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => stdout.push(c));
  child.stderr!.on('data', (c: Buffer) => stderr.push(c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill(child);
  }, opts.timeoutMs);
  const onAbort = () => kill(child);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exit = await done;
    opts.signal?.throwIfAborted();
    if (timedOut) {
      throw new MediaError(`${opts.tool} timed out after ${opts.timeoutMs / 1000} s`, { cause: { file: input, timeoutMs: opts.timeoutMs } });
    }
    const crash = crashSignal(exit);
    if (crash) throw crashed(cmd, opts.tool, input.replace(/^file:/, ''), crash);
    return { ...exit, stdout: Buffer.concat(stdout).toString('utf8'), stderr };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    kill(child);
  }
}

/**
 * What ffmpeg's own description of the input ("Input #0 ... Stream #0:1: Video: ...") says about
 * one stream: the fields the indexer uses.
 */
export interface StreamInfo {
  /** ffmpeg's stream index, as in `-map 0:<index>` */
  index: number;
  /** Video, Audio, Subtitle, Data, Attachment */
  type: string;
  codec: string;
  pixFmt: string;
  /** coded size */
  width: number;
  height: number;
  /** sample aspect ratio [num, den]; [1, 1] when the file does not say */
  sar: [number, number];
  /** average frame rate (or ffmpeg's guess, tbr), 0 when unknown */
  fps: number;
  attachedPic: boolean;
  /** colour description as ffmpeg names it ('' when unspecified) */
  range: string;
  matrix: string;
  primaries: string;
  transfer: string;
  /** ffprobe's field_order: tt/bb/tb/bt are interlaced */
  fieldOrder: 'progressive' | 'tt' | 'bb' | 'tb' | 'bt' | 'unknown';
  /** degrees clockwise the player must rotate */
  rotation: number;
  /** seconds, from the stream's DURATION tag where the container writes one, else 0 */
  duration: number;
}

export interface MediaInfo {
  formatName: string;
  duration: number;
  streams: StreamInfo[];
}

/**
 * Why vidsearch probes with ffmpeg itself (`ffmpeg -i`) and not with ffprobe: the decision is made
 * once, here. The stream that probe picks is then named by index (`-map 0:<index>`) to every later
 * run, so the description must come from the program that decodes: the same demuxers number the
 * streams the same way and know the same codecs. The bundled ffprobe is another build (2023) than
 * the bundled ffmpeg (2018), and it crashes (SIGSEGV) on every MPEG transport stream (.ts .mts
 * .m2ts) that ffmpeg reads fine. `ffmpeg -i` with no output prints the input's description, in a
 * format that has been stable since ffmpeg 1.x, and exits 1 ("At least one output file must be
 * specified"); whether an "Input #0" section came out is what says the file was read. ffprobe is
 * kept for one thing only, the optional keyframe shortcut, where any failure just means a full
 * decode.
 */
function parseDescription(lines: string[]): MediaInfo | undefined {
  const start = lines.findIndex((l) => /^Input #0, /.test(l));
  if (start < 0) return undefined;
  const header = /^Input #0, (.*), from '/.exec(lines[start]);
  const info: MediaInfo = { formatName: header?.[1] ?? '', duration: 0, streams: [] };
  let current: StreamInfo | undefined;
  // The `rotate` tag (clockwise, what the player turns) wins over the display matrix (its angle is
  // counterclockwise), as ffprobe's reading did before.
  const tagged = new Set<StreamInfo>();
  for (const line of lines.slice(start + 1)) {
    if (/^(Input #[1-9]|Output #|Stream mapping:|At least one output file)/.test(line)) break;
    const duration = /^Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(line);
    if (duration) {
      info.duration = Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]);
      continue;
    }
    const stream = /^Stream #0:(\d+)(?:\[[^\]]*\])?(?:\([^)]*\))?: (\w+): (.*)$/.exec(line);
    if (stream) {
      // MPEG-TS lists its streams under each program; a stream in two programs comes twice.
      const seen = info.streams.find((s) => s.index === Number(stream[1]));
      current = seen ?? parseStream(Number(stream[1]), stream[2], stream[3]);
      if (!seen) info.streams.push(current);
      continue;
    }
    // Lines after a stream's own line, until the next: its metadata and side data.
    if (!current) continue;
    const meta = /^([\w-]+)\s*: (.*)$/.exec(line);
    if (meta?.[1] === 'rotate' && Number.isFinite(Number(meta[2]))) {
      current.rotation = normalizeRotation(Number(meta[2]));
      tagged.add(current);
    }
    const tagDuration = meta && /^DURATION(-\w+)?$/i.test(meta[1]) ? /^(\d+):(\d+):(\d+(?:\.\d+)?)/.exec(meta[2]) : null;
    if (tagDuration) current.duration = Number(tagDuration[1]) * 3600 + Number(tagDuration[2]) * 60 + Number(tagDuration[3]);
    const matrix = /^displaymatrix: rotation of (-?[\d.]+) degrees/.exec(line);
    if (matrix && !tagged.has(current)) current.rotation = normalizeRotation(-Number(matrix[1]));
  }
  return info;
}

function normalizeRotation(clockwise: number): number {
  return (((Math.round(clockwise / 90) * 90) % 360) + 360) % 360;
}

/** Splits at commas outside parentheses and brackets. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(from, i).trim());
      from = i + 1;
    }
  }
  parts.push(text.slice(from).trim());
  return parts;
}

const FIELD_ORDERS: Record<string, StreamInfo['fieldOrder']> = {
  progressive: 'progressive',
  'top first': 'tt',
  'bottom first': 'bb',
  'top coded first (swapped)': 'tb',
  'bottom coded first (swapped)': 'bt',
};

function parseStream(index: number, type: string, details: string): StreamInfo {
  const s: StreamInfo = {
    index, type, codec: 'unknown', pixFmt: '', width: 0, height: 0, sar: [1, 1], fps: 0, attachedPic: /\(attached pic\)/.test(details),
    range: '', matrix: '', primaries: '', transfer: '', fieldOrder: 'unknown', rotation: 0, duration: 0,
  };
  const parts = splitTop(details);
  s.codec = /^([\w-]+)/.exec(parts[0] ?? '')?.[1] ?? 'unknown';
  if (type !== 'Video') return s;
  // "yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67, progressive)": range, colour (matrix/primaries/
  // transfer, or one name when all three are the same), field order; each only when known.
  const pix = parts[1] && !/^\d+x\d+/.test(parts[1]) ? parts[1] : '';
  const pixMatch = /^([\w]+)(?:\((.*)\))?$/.exec(pix);
  if (pixMatch) {
    s.pixFmt = pixMatch[1];
    for (const item of (pixMatch[2] ?? '').split(/,\s*/).filter(Boolean)) {
      if (item === 'tv' || item === 'pc') s.range = item;
      else if (FIELD_ORDERS[item]) s.fieldOrder = FIELD_ORDERS[item];
      else if (item.includes('/')) [s.matrix, s.primaries, s.transfer] = item.split('/').map((v) => (v === 'unknown' ? '' : v));
      else s.matrix = s.primaries = s.transfer = item === 'unknown' ? '' : item;
    }
  }
  const size = parts.map((p) => /^(\d+)x(\d+)/.exec(p)).find(Boolean);
  if (size) [s.width, s.height] = [Number(size[1]), Number(size[2])];
  const sar = /SAR (\d+):(\d+)/.exec(details);
  if (sar && Number(sar[1]) > 0 && Number(sar[2]) > 0) s.sar = [Number(sar[1]), Number(sar[2])];
  const rate = (unit: string) => {
    const m = new RegExp(`(?:^|, )(\\d+(?:\\.\\d+)?)(k?) ${unit}(?:,|$| )`).exec(details);
    return m ? Number(m[1]) * (m[2] ? 1000 : 1) : 0;
  };
  s.fps = rate('fps') || rate('tbr');
  return s;
}

/** HDR transfer characteristics: PQ (HDR10, Dolby Vision base layers) and HLG (broadcast, phones). */
const HDR_TRANSFERS = new Set(['smpte2084', 'arib-std-b67']);
/** Codecs that can code interlaced pictures without saying so in the stream header. */
const INTERLACE_CAPABLE = new Set(['h264', 'mpeg2video', 'mpeg1video', 'vc1', 'mpeg4', 'hevc', 'dvvideo', 'wmv3']);

/** Reads what the indexer needs to know about a video; MediaError when it is not a usable video. */
export async function probe(file: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<VideoProbe> {
  await checkReadable(file);
  const input = inputUrl(file);
  const ffmpeg = resolveTools().ffmpeg;
  const result = await run(ffmpeg, ['-nostdin', '-hide_banner', ...inputArgs(file)], input, {
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS,
    tool: 'ffmpeg',
    // The whole description, however many streams and tags it lists.
    stderrBytes: 1 << 20,
  });
  const lines = result.stderr.lines();
  const info = parseDescription(lines);
  if (!info) {
    if (lines.some((l) => REFUSED.test(l))) throw refusedFormat(file, 'ffmpeg');
    throw new MediaError(`not a video file: ffmpeg could not read it (${probeFailure(result.stderr) || `exit code ${result.code}`})`, {
      cause: { file, exitCode: result.code, stderr: lines.slice(-ERROR_LINES) },
    });
  }
  const { streams, formatName } = info;
  // Cover art in audio files is a "video" stream too; it is not something to index.
  const videos = streams.filter((s) => s.type === 'Video' && !s.attachedPic && s.width > 0);
  if (videos.length === 0) {
    const kinds = [...new Set(streams.map((s) => s.type.toLowerCase()))].join(', ') || 'none';
    throw new MediaError(`no video stream (streams: ${kinds})`, { cause: { file, formatName, streams: kinds } });
  }
  if (formatName.endsWith('_pipe')) {
    throw new MediaError(`not a video (still image, ${formatName})`, { cause: { file, formatName } });
  }
  const video = videos.length === 1 ? videos[0] : await mainVideoStream(file, videos, opts.signal);
  const rotation = video.rotation;
  const codedWidth = Math.round(video.width * (video.sar[0] / video.sar[1]));
  const codedHeight = video.height;
  const quarterTurn = rotation === 90 || rotation === 270;
  const interlaced = video.fieldOrder === 'progressive' ? 'no' : video.fieldOrder === 'unknown' ? (INTERLACE_CAPABLE.has(video.codec) ? 'maybe' : 'no') : 'yes';
  return {
    duration: info.duration || video.duration,
    width: quarterTurn ? codedHeight : codedWidth,
    height: quarterTurn ? codedWidth : codedHeight,
    rotation,
    fps: video.fps,
    codec: video.codec,
    hasAudio: streams.some((s) => s.type === 'Audio'),
    videoStreams: videos.length,
    formatName,
    source: {
      stream: video.index,
      width: video.width,
      height: video.height,
      sar: video.sar,
      hdr: HDR_TRANSFERS.has(video.transfer) ? { transfer: video.transfer, primaries: video.primaries, matrix: video.matrix, range: video.range } : undefined,
      interlaced,
      pixFmt: video.pixFmt,
    },
  };
}

/**
 * The main video stream when there are several: what ffmpeg's own default selection aims at (it
 * takes the largest picture), made sure of by the packets themselves. Attached pictures are gone
 * already where ffmpeg marks them (ffmpeg 4.1 does not say so for Matroska attachments or mp4
 * covers); a stream with one picture (a cover stored as an ordinary MJPEG or PNG track, or an
 * unmarked attached picture) is a still. Among the rest the longest, then the largest, then the
 * first. Counting needs only the start of the file (a still's one packet comes first), read
 * without decoding (`-c copy -f framecrc`); the whole file is read only when two real videos
 * remain, to measure their lengths. If reading fails, picture size decides, as it does for ffmpeg.
 */
async function mainVideoStream(file: string, videos: StreamInfo[], signal?: AbortSignal): Promise<StreamInfo> {
  const spans = async (indices: number[], seconds?: number) =>
    packetSpans(file, indices, signal, seconds).catch(() => {
      signal?.throwIfAborted();
      return undefined;
    });
  const start = await spans(videos.map((v) => v.index), STILL_SCAN_SECONDS);
  let candidates = start ? videos.filter((_, i) => start[i].packets > 1) : videos;
  if (candidates.length === 0) candidates = videos;
  if (candidates.length === 1) return candidates[0];
  const whole = await spans(candidates.map((v) => v.index));
  const ranked = candidates.map((v, i) => ({ v, seconds: whole ? Math.round(whole[i].seconds * 10) / 10 : 0, area: v.width * v.height }));
  ranked.sort((a, b) => b.seconds - a.seconds || b.area - a.area || a.v.index - b.v.index);
  return ranked[0].v;
}

/** Per stream (in the order given): how many packets, and the time from the first to the end of the last. */
async function packetSpans(file: string, indices: number[], signal?: AbortSignal, limitSeconds?: number): Promise<Array<{ packets: number; seconds: number }>> {
  const spans = indices.map(() => ({ packets: 0, first: Infinity, end: -Infinity, tb: 0 }));
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    ...inputArgs(file, limitSeconds ? ['-t', String(limitSeconds)] : []),
    ...indices.flatMap((i) => ['-map', `0:${i}`]),
    '-c', 'copy', '-f', 'framecrc', 'pipe:1',
  ];
  const { exit } = await toolLines(resolveTools().ffmpeg, 'ffmpeg', args, signal, (line) => {
    const tb = /^#tb (\d+): (\d+)\/(\d+)/.exec(line);
    if (tb && spans[Number(tb[1])]) spans[Number(tb[1])].tb = Number(tb[2]) / Number(tb[3]);
    if (line.startsWith('#')) return;
    const [stream, , pts, duration] = line.split(',').map((v) => Number(v.trim()));
    const span = spans[stream];
    if (!span || !Number.isFinite(pts)) return;
    span.packets++;
    span.first = Math.min(span.first, pts);
    span.end = Math.max(span.end, pts + (Number.isFinite(duration) ? duration : 0));
  });
  signal?.throwIfAborted();
  if (exit!.code !== 0) throw new MediaError('cannot read the packets of the video streams', { cause: { file, exitCode: exit!.code } });
  return spans.map((s) => ({ packets: s.packets, seconds: s.packets ? (s.end - s.first) * s.tb : 0 }));
}

/**
 * Runs a tool whose stdout is read line by line (packet listings: cheap, no decoding), killed on
 * abort or after PACKET_SCAN_TIMEOUT_MS. `onLine` returning false stops it early (`stopped`).
 * A spawn failure rejects with the ToolError of exited().
 */
async function toolLines(cmd: string, tool: string, args: string[], signal: AbortSignal | undefined, onLine: (line: string) => boolean | void): Promise<{ exit?: Exit; stopped: boolean }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const done = exited(child, tool);
  done.catch(() => {});
  const onAbort = () => kill(child);
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(onAbort, PACKET_SCAN_TIMEOUT_MS);
  try {
    let rest = '';
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      const lines = (rest + chunk.toString('latin1')).split('\n');
      rest = lines.pop()!;
      for (const line of lines) if (onLine(line) === false) return { stopped: true };
    }
    return { exit: await done, stopped: false };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    kill(child);
    await done.catch(() => {});
  }
}

async function checkReadable(file: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
    await fs.promises.access(file, fs.constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message;
    throw new MediaError(`cannot read the file (${reason})`, { cause: { file, code } });
  }
  if (!st.isFile()) throw new MediaError('cannot read the file (not a regular file)', { cause: { file } });
  if (st.size === 0) throw new MediaError('empty file (0 bytes)', { cause: { file, size: 0 } });
}

// ffprobe ends with "<input>: <reason>"; the demuxer's own complaint just before it, when there is
// one ("moov atom not found"), is the more useful half, so both are kept.
function probeFailure(stderr: StderrTail): string {
  const lines = stderr.lines();
  const last = lines.at(-1);
  const before = lines.at(-2);
  if (!last) return '';
  return before?.startsWith('[') ? `${before.replace(/^\[[^\]]*\]\s*/, '')}: ${last}` : last;
}

function rational(value: string | undefined): number {
  if (!value) return 0;
  const [num, den = '1'] = value.split(/[/:]/);
  const n = Number(num);
  const d = Number(den);
  return Number.isFinite(n) && Number.isFinite(d) && d !== 0 && n > 0 ? n / d : 0;
}

function positive(value: string | undefined): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export interface FrameOptions {
  /** frames sampled per second of video */
  fps: number;
  /** side of the square frames, the model's input size */
  size: number;
  /** when given, a file without a video stream fails before ffmpeg starts */
  probe?: VideoProbe;
  signal?: AbortSignal;
  /** ffmpeg decoding threads */
  threads?: number;
  /**
   * 'auto' (default): when every frame the sampling picks is a keyframe (cameras often put one
   * every second), decode only keyframes: the same frames, bit for bit, for a fraction of the
   * decoding. 'never': always decode every frame.
   */
  keyframes?: 'auto' | 'never';
}

/**
 * Decodes a video into square RGB frames sampled at `fps`, each `size`×`size`, upright.
 * One ffmpeg process per call; frames stream out as the consumer pulls them, so memory stays
 * bounded by a few frames whatever the video's length. Stopping early or aborting kills ffmpeg.
 */
export async function* frames(file: string, opts: FrameOptions): AsyncGenerator<RawFrame> {
  const { fps, size } = opts;
  if (!(fps > 0) || !Number.isFinite(fps)) throw new UsageError(`frame rate must be a positive number, got ${fps}`);
  if (!Number.isInteger(size) || size <= 0) throw new UsageError(`frame size must be a positive integer, got ${size}`);
  if (opts.probe && opts.probe.videoStreams === 0) throw new MediaError('no video stream', { cause: { file } });
  // Which stream, and how to read it (HDR, interlaced, geometry), comes from probe; a probe made
  // elsewhere (or none) means asking again: a cheap `ffmpeg -i`.
  const described = opts.probe?.source ? opts.probe : await probe(file, { signal: opts.signal });
  const source = described.source!;
  const toFrame = (rgb: Uint8Array, index: number): RawFrame => ({ index, time: index / fps, rgb, width: size, height: size });

  let count = 0;
  // Deinterlacing interlaced frames looks at their neighbours, which a keyframe-only decode does
  // not have: the shortcut would no longer give the same frames.
  const keyframesOnly = opts.keyframes !== 'never' && source.interlaced !== 'yes' && (await sampledFramesAreKeyframes(file, fps, opts.signal, { ...source, formatName: described.formatName }));
  const skip = keyframesOnly ? ['-skip_frame', 'nokey'] : [];
  for await (const rgb of decode(file, source.stream, frameFilter(source, described.rotation, size, `fps=fps=${fps}:round=up`), [], opts, skip)) {
    yield toFrame(rgb, count++);
  }
  if (count > 0) return;
  // The fps filter drops frames it cannot place in time (e.g. missing timestamps); a decodable
  // video still deserves one frame, so take the first one as it is.
  for await (const rgb of decode(file, source.stream, frameFilter(source, described.rotation, size), ['-frames:v', '1'], opts)) {
    yield toFrame(rgb, count++);
  }
  if (count === 0) throw new MediaError('no frames could be decoded from the video', { cause: { file } });
}

/**
 * The filter chain from a decoded frame of `source` to a `size`×`size` RGB frame: deinterlace
 * (when the stream is or may be interlaced), sample (`sampling`), tone-map (HDR only), then
 * CLIP's resize and centre crop. An SDR progressive frame goes through exactly
 * `[sampling,]format=rgb24,scale,setsar,crop`: no colour filter touches it.
 */
export function frameFilter(source: VideoSource, rotation: number, size: number, sampling?: string): string {
  return [...deinterlace(source), ...(sampling ? [sampling] : []), ...toneMap(source), ...squareCrop(clipGeometry(source, rotation, size), size)].join(',');
}

/**
 * bwdif (motion adaptive, the better of the two deinterlacers the bundled ffmpeg has), one frame
 * out per frame in, so timestamps and the sampling stay as they are. A stream that says it is
 * interlaced (field order tt, bb, tb, bt) is deinterlaced throughout; one that does not say, in a
 * codec that can code interlaced pictures (H.264 in mp4 never says), only where a frame is marked
 * interlaced: progressive frames pass through bit for bit.
 */
function deinterlace(source: VideoSource): string[] {
  if (source.interlaced === 'no') return [];
  return [`bwdif=mode=send_frame:parity=auto:deint=${source.interlaced === 'yes' ? 'all' : 'interlaced'}`];
}

// ffmpeg's colour names → zscale's (the 2018 zscale knows only its short names).
const ZSCALE_PRIMARIES: Record<string, string> = { bt709: '709', bt2020: '2020', smpte170m: '170m', smpte240m: '240m' };
const ZSCALE_MATRIX: Record<string, string> = { bt709: '709', bt2020nc: '2020_ncl', bt2020c: '2020_cl', bt470bg: '470bg', smpte170m: '170m' };

/**
 * HDR (PQ or HLG) to SDR BT.709: to linear light (100 cd/m² = 1.0, SDR's reference white),
 * BT.2020 to BT.709 primaries, then mobius: linear up to a knee, so that scene content at SDR
 * levels keeps its colour (a PQ or HLG clip made from an SDR colour comes back within a few
 * levels of it), and a smooth roll-off above, so highlights are compressed, not clipped. Hable,
 * the usual choice for films, darkens everything below the highlights by a third. Missing tags
 * default to what HDR video almost always is: BT.2020 non-constant luminance, limited range.
 */
function toneMap(source: VideoSource): string[] {
  const hdr = source.hdr;
  if (!hdr) return [];
  const pin = ZSCALE_PRIMARIES[hdr.primaries] ?? '2020';
  const min = ZSCALE_MATRIX[hdr.matrix] ?? '2020_ncl';
  const rin = hdr.range === 'pc' ? 'pc' : 'tv';
  return [
    `zscale=tin=${hdr.transfer}:pin=${pin}:min=${min}:rin=${rin}:t=linear:npl=100`,
    'format=gbrpf32le',
    'zscale=p=709',
    'tonemap=tonemap=mobius:desat=0',
    'zscale=t=709:m=709:r=pc',
    'format=gbrp',
  ];
}

export interface Geometry {
  /** size after the resize */
  width: number;
  height: number;
  /** top-left corner of the centre crop */
  x: number;
  y: number;
}

/**
 * Hugging Face CLIPImageProcessor's geometry for a frame of the displayed size (sample aspect
 * ratio and rotation applied): the shorter side becomes `size`, the longer one
 * int(size * long / short) (truncated, not rounded up), and the crop starts at
 * (resized - size) // 2. Exact in integers (the displayed size is a rational number for
 * anamorphic video), so every aspect ratio lands on the reference's pixel grid.
 */
export function clipGeometry(source: Pick<VideoSource, 'width' | 'height' | 'sar'>, rotation: number, size: number): Geometry {
  // Displayed width : height = width*sarNum : height*sarDen, turned a quarter when rotated.
  let w = source.width * source.sar[0];
  let h = source.height * source.sar[1];
  if (rotation === 90 || rotation === 270) [w, h] = [h, w];
  const width = w > h ? Math.floor((size * w) / h) : size;
  const height = w > h ? size : Math.floor((size * h) / w);
  return { width, height, x: Math.floor((width - size) / 2), y: Math.floor((height - size) / 2) };
}

// The resize runs on RGB (as the reference does, on the decoded picture converted to RGB), with
// the bicubic filter CLIP uses, then cuts the centre square. Scaling in YUV first (as vidsearch
// did before) differs from the reference by 2.3/255 on average on a textured 1080p frame, and a
// YUV crop can only start on even columns; in RGB, 0.09/255.
function squareCrop(g: Geometry, size: number): string[] {
  return ['format=rgb24', `scale=w=${g.width}:h=${g.height}:flags=bicubic`, 'setsar=1', `crop=w=${size}:h=${size}:x=${g.x}:y=${g.y}:exact=1`];
}

/**
 * Whether ffmpeg's `fps=fps=<fps>:round=up` filter picks only keyframes from this video, so that
 * decoding keyframes alone (-skip_frame nokey) gives exactly the frames a full decode would.
 * Decided from the packet list (no decoding) by replaying the filter's rule on both frame sets:
 * tick t takes the last frame whose timestamp, rounded up to the tick grid, is <= t, and ticks
 * run from the first frame's up to (not including) the one that holds the end of the last frame.
 * Stops reading at the first sampled frame that is not a keyframe; any doubt means false.
 */
export async function sampledFramesAreKeyframes(
  file: string,
  fps: number,
  signal?: AbortSignal,
  source?: Pick<VideoSource, 'stream' | 'width' | 'height'> & { formatName?: string },
): Promise<boolean> {
  const rate = simpleRational(fps);
  if (!rate) return false;
  // An ffprobe that crashed on a container once (the bundled one on every MPEG-TS) is not run on
  // that container again: the answer would be the same full decode.
  const crashKey = source?.formatName ? `${resolveTools().ffprobe}\n${source.formatName}` : undefined;
  if (crashKey && FFPROBE_CRASHED.has(crashKey)) return false;
  // ffprobe may be another build than ffmpeg (the bundled ones are): it must see the stream that
  // ffmpeg decodes, same index and same picture size, or the shortcut is not taken.
  const select = source ? String(source.stream) : 'V:0';
  try {
    const input = inputUrl(file);
    const { ffprobe } = resolveTools();
    const info = await run(ffprobe, ['-v', 'error', '-select_streams', select, '-show_entries', 'stream=time_base,width,height:format=start_time', '-of', 'json', ...inputArgs(file)], input, {
      signal,
      timeoutMs: DEFAULT_PROBE_TIMEOUT_MS,
      tool: 'ffprobe',
    });
    if (info.signal && crashKey) FFPROBE_CRASHED.add(crashKey);
    if (info.code !== 0) return false;
    const parsed = JSON.parse(info.stdout) as { streams?: Array<{ time_base?: string; width?: number; height?: number }>; format?: { start_time?: string } };
    const seen = parsed.streams?.[0];
    if (source && (seen?.width !== source.width || seen?.height !== source.height)) return false;
    const [tbNum, tbDen] = (seen?.time_base ?? '').split('/').map(Number);
    if (!(tbNum > 0 && tbDen > 0)) return false;
    // ffmpeg shifts every timestamp by the file's start time before filtering.
    const startUs = Math.round(Number(parsed.format?.start_time ?? 0) * 1e6);
    if (!Number.isFinite(startUs)) return false;
    const offset = Math.round((startUs * tbDen) / (tbNum * 1e6));
    // tick = ceil((pts - offset) * tb * fps), in integers
    const num = tbNum * rate[0];
    const den = tbDen * rate[1];
    const tick = (pts: number): number | undefined => {
      const n = (pts - offset) * num;
      if (!Number.isSafeInteger(n) || !Number.isSafeInteger(den)) return undefined;
      return Math.floor(n / den) + (((n % den) + den) % den === 0 ? 0 : 1);
    };
    return await scanPackets(file, select, tick, signal);
  } catch {
    signal?.throwIfAborted();
    return false;
  }
}

const FFPROBE_CRASHED = new Set<string>();

/** fps as num/den when it is a plain decimal (1, 0.5, 2, 0.25, ...), as ffmpeg reads it. */
function simpleRational(x: number): [number, number] | undefined {
  const den = 1000;
  const num = Math.round(x * den);
  if (Math.abs(num / den - x) > 1e-12 || num <= 0) return undefined;
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const g = gcd(num, den);
  return [num / g, den / g];
}

interface PacketFrame {
  pts: number;
  duration: number;
  key: boolean;
}

/**
 * Replays the fps filter on the frames in presentation order (full decode) and on the keyframes
 * alone; true when both pick the same frames. Reads `ffprobe -show_packets` as a stream.
 */
async function scanPackets(file: string, select: string, tick: (pts: number) => number | undefined, signal?: AbortSignal): Promise<boolean> {
  // Reading the packet index is cheap (no decoding); a file where it is not gives up the shortcut
  // (toolLines' timeout).
  // Packets come in decoding order; with B-frames presentation order differs by a few frames, so
  // frames are released in pts order through a small reorder window.
  const WINDOW = 32;
  const pending: PacketFrame[] = [];
  let selected: PacketFrame | undefined; // last frame released, the candidate for its ticks
  let lastKey: PacketFrame | undefined;
  let first: number | undefined;
  // Frames released in pts order: a frame is picked (for ticks tick(F)..tick(next)-1) when the
  // next frame's tick is larger; it must be a keyframe.
  const release = (f: PacketFrame): boolean => {
    const t = tick(f.pts);
    if (t === undefined) return false;
    first ??= t;
    if (selected) {
      const ts = tick(selected.pts)!;
      if (t < ts) return false; // out of order beyond the window: give up
      if (t > ts && ts >= first) {
        if (!selected.key) return false;
      }
    }
    selected = f;
    if (f.key) lastKey = f;
    return true;
  };
  const args = ['-v', 'error', '-select_streams', select, '-show_entries', 'packet=pts,duration,flags', '-of', 'csv=p=0', ...inputArgs(file)];
  const { exit, stopped } = await toolLines(resolveTools().ffprobe, 'ffprobe', args, signal, (line) => {
    if (!line) return;
    const [pts, duration, flags = ''] = line.split(',');
    if (!/^-?\d+$/.test(pts) || !/^\d+$/.test(duration) || flags.includes('D')) return false;
    pending.push({ pts: Number(pts), duration: Number(duration), key: flags.startsWith('K') });
    if (pending.length > WINDOW) {
      pending.sort((a, b) => a.pts - b.pts);
      if (!release(pending.shift()!)) return false;
    }
  });
  if (stopped || exit!.code !== 0) return false;
  pending.sort((a, b) => a.pts - b.pts);
  for (const f of pending) if (!release(f)) return false;
  if (!selected || !lastKey || first === undefined) return false;
  // The end: ticks stop before the one holding the end of the last decoded frame.
  const endFull = tick(selected.pts + selected.duration);
  const endKey = tick(lastKey.pts + lastKey.duration);
  if (endFull === undefined || endKey === undefined) return false;
  const lastTick = tick(selected.pts)!;
  if (lastTick < endFull && lastTick >= first && !selected.key) return false;
  // Every pick is a keyframe, so a keyframe-only decode picks the same ones, provided it stops
  // at the same tick (its end is the end of the last keyframe).
  return endFull === endKey;
}

/**
 * Decoding runs beside inference (the pipeline reads ahead) and needs about a sixth of the CPU;
 * preempting an inference thread stalls the whole parallel operator, so ffmpeg runs slightly
 * below normal priority. Indexing 10 min of 1080p camera video on 2 cores: 10.18 frames/s at
 * nice 0, 10.50 at 5, 10.37 at 10; at 19 inference starves for frames (9.59). Best effort: not
 * every platform lets a process change it.
 */
function lowerPriority(child: ChildProcess): void {
  try {
    if (child.pid) os.setPriority(child.pid, DECODE_NICENESS);
  } catch {
    // not permitted here; the default priority works too
  }
}

/** One ffmpeg run: yields exact size*size*3-byte RGB frames from its stdout as they are pulled. */
async function* decode(file: string, stream: number, filter: string, outputArgs: string[], opts: FrameOptions, inputOptions: string[] = [], demuxers?: readonly string[]): AsyncGenerator<Uint8Array> {
  const { signal, size } = opts;
  signal?.throwIfAborted();
  const input = inputUrl(file);
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    ...(opts.threads ? ['-threads', String(opts.threads)] : []),
    ...inputArgs(file, inputOptions, demuxers),
    // The main video stream probe chose (not cover art, not a still). Autorotation stays on
    // (ffmpeg's default), so rotated phone videos come out upright.
    '-map', `0:${stream}`,
    '-vf', filter,
    // The fps filter alone decides which frames exist; the muxer must not duplicate or drop.
    '-vsync', '0',
    ...outputArgs,
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ];
  const child = spawn(resolveTools().ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  lowerPriority(child);
  const done = exited(child, 'ffmpeg');
  done.catch(() => {}); // observed below; this keeps an early spawn failure from being "unhandled"
  const stderr = new StderrTail(input);
  child.stderr!.on('data', (c: Buffer) => stderr.push(c));
  const onAbort = () => kill(child);
  signal?.addEventListener('abort', onAbort, { once: true });

  const frameBytes = size * size * 3;
  let produced = 0;
  try {
    let frame = new Uint8Array(frameBytes);
    let filled = 0;
    // Iterating the stream pulls one chunk at a time: while the consumer is busy with a frame,
    // nothing is read, the pipe fills and ffmpeg blocks. That is the backpressure.
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      for (let offset = 0; offset < chunk.length; ) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        frame.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          yield frame;
          produced++;
          // The consumer may have aborted while holding the frame; do not hand it buffered ones.
          signal?.throwIfAborted();
          frame = new Uint8Array(frameBytes);
          filled = 0;
        }
      }
    }
    const exit = await done;
    signal?.throwIfAborted();
    // Only an abort or an early stop kills ffmpeg from here, and neither gets this far.
    const crash = crashSignal(exit);
    if (crash) throw crashed(child.spawnfile, 'ffmpeg', file, crash);
    if (exit.code !== 0) {
      if (produced === 0 && stderr.lines().some((l) => l.includes('matches no streams'))) {
        throw new MediaError('no video stream', { cause: { file } });
      }
      if (produced === 0 && stderr.lines().some((l) => REFUSED.test(l))) throw refusedFormat(file, 'ffmpeg');
      const noFilter = produced === 0 ? await missingFilter(stderr.lines(), file) : undefined;
      if (noFilter) throw noFilter;
      const why = stderr.last() || (exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`);
      const cause = { file, exitCode: exit.code, signal: exit.signal, frames: produced, stderr: stderr.lines().slice(-ERROR_LINES) };
      throw new MediaError(produced === 0 ? `ffmpeg could not decode the video: ${why}` : `decoding failed after ${produced} frames: ${why}`, { cause });
    }
  } catch (err) {
    // A stream error after an abort is just the kill; report the abort itself.
    signal?.throwIfAborted();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    kill(child);
    // Wait for the exit so that no ffmpeg outlives the loop that started it.
    await done.catch(() => {});
  }
}

/**
 * A picture larger than this is refused before it is decoded: a small PNG or WebP can declare
 * a huge canvas (a "decompression bomb"), and decoding it would take gigabytes. 64 MP is more
 * than any phone camera's picture.
 */
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;
const DEFAULT_IMAGE_TIMEOUT_MS = 30_000;
const NOT_AN_IMAGE = 'not an image: send a PNG, JPEG, WebP, BMP or TIFF picture';

/**
 * One picture decoded exactly as a video frame is (frameFilter: RGB, CLIP's bicubic resize of the
 * shorter side and centre crop to `size`×`size`), for searching with it. Read with the picture
 * demuxers only, so a video, a playlist or anything else is refused by ffmpeg itself; MediaError
 * (cause.kind 'not-an-image' or 'too-large') otherwise. EXIF orientation is not applied (ffmpeg
 * 4.1 does not read it): a sideways phone photo is searched sideways.
 */
export async function decodeImage(file: string, size: number, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<RawFrame> {
  if (!Number.isInteger(size) || size <= 0) throw new UsageError(`frame size must be a positive integer, got ${size}`);
  await checkReadable(file);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_IMAGE_TIMEOUT_MS;
  const input = inputUrl(file);
  // The whole description: a photo's metadata (EXIF, PNG text) can push "Input #0" out of a short tail.
  const described = await run(resolveTools().ffmpeg, ['-nostdin', '-hide_banner', ...inputArgs(file, [], IMAGE_DEMUXERS)], input, { signal: opts.signal, timeoutMs, tool: 'ffmpeg', stderrBytes: 1 << 20 });
  const info = parseDescription(described.stderr.lines());
  const picture = info?.formatName.endsWith('_pipe') ? info.streams.find((s) => s.type === 'Video' && s.width > 0) : undefined;
  if (!info || !picture) throw new MediaError(NOT_AN_IMAGE, { cause: { file, kind: 'not-an-image', formatName: info?.formatName } });
  if (picture.width * picture.height > MAX_IMAGE_PIXELS) {
    throw new MediaError(`the image is too large: ${picture.width} × ${picture.height} pixels (at most ${MAX_IMAGE_PIXELS / 1024 / 1024} megapixels)`, {
      cause: { file, kind: 'too-large', width: picture.width, height: picture.height },
    });
  }
  // A still has no fields, no HDR transfer and no rotation tag: only the geometry applies.
  const source: VideoSource = { stream: picture.index, width: picture.width, height: picture.height, sar: picture.sar, interlaced: 'no', pixFmt: picture.pixFmt };
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  try {
    for await (const rgb of decode(file, picture.index, frameFilter(source, 0, size), ['-frames:v', '1'], { fps: 1, size, signal }, [], IMAGE_DEMUXERS)) {
      return { index: 0, time: 0, rgb, width: size, height: size };
    }
  } catch (err) {
    opts.signal?.throwIfAborted();
    if (timeout.aborted) throw new MediaError(`ffmpeg timed out after ${timeoutMs / 1000} s decoding the image`, { cause: { file, timeoutMs } });
    if (err instanceof MediaError) throw new MediaError(`${NOT_AN_IMAGE} (${err.message})`, { cause: { file, kind: 'not-an-image' } });
    throw err;
  }
  throw new MediaError(`${NOT_AN_IMAGE} (no picture could be decoded)`, { cause: { file, kind: 'not-an-image' } });
}

/** Writes a JPEG of the frame at `time` seconds, `width` pixels wide, atomically (temp file + rename). */
export async function thumbnail(file: string, time: number, outFile: string, opts: { width?: number; probe?: VideoProbe } = {}): Promise<void> {
  const width = opts.width ?? DEFAULT_THUMBNAIL_WIDTH;
  if (!Number.isInteger(width) || width <= 0) throw new UsageError(`thumbnail width must be a positive integer, got ${width}`);
  await checkReadable(file);
  // The same stream, tone-mapping and deinterlacing as the frames that were indexed.
  const source = (opts.probe?.source ? opts.probe : await probe(file)).source!;
  await fs.promises.mkdir(path.dirname(outFile), { recursive: true });
  const input = inputUrl(file);
  const tmp = `${outFile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const result = await run(
      resolveTools().ffmpeg,
      [
        '-nostdin', '-hide_banner', '-loglevel', 'error',
        // Before -i: seek by the index to the keyframe, then decode only up to `time`.
        ...inputArgs(file, ['-ss', Math.max(0, time).toFixed(3)]),
        '-map', `0:${source.stream}`,
        '-frames:v', '1',
        // Height from the display aspect ratio, so anamorphic video is not squeezed; even for the encoder.
        '-vf', [...deinterlace(source), ...toneMap(source), `scale=w=${width}:h='max(2,trunc(ow/dar/2)*2)':flags=bicubic`, 'setsar=1'].join(','),
        '-q:v', '3',
        '-f', 'mjpeg', '-y', tmp,
      ],
      input,
      { timeoutMs: DEFAULT_THUMBNAIL_TIMEOUT_MS, tool: 'ffmpeg' },
    );
    if (result.code !== 0 && result.stderr.lines().some((l) => REFUSED.test(l))) throw refusedFormat(file, 'ffmpeg');
    const noFilter = result.code !== 0 ? await missingFilter(result.stderr.lines(), file) : undefined;
    if (noFilter) throw noFilter;
    if (result.code !== 0) {
      throw new MediaError(`cannot make a thumbnail: ${result.stderr.last() || `ffmpeg exit code ${result.code}`}`, {
        cause: { file, time, exitCode: result.code, stderr: result.stderr.lines().slice(-ERROR_LINES) },
      });
    }
    const written = await fs.promises.stat(tmp).catch(() => null);
    if (!written || written.size === 0) {
      throw new MediaError(`cannot make a thumbnail: no frame at ${time} s (past the end of the video?)`, { cause: { file, time } });
    }
    await fs.promises.rename(tmp, outFile);
  } finally {
    await fs.promises.rm(tmp, { force: true });
  }
}
