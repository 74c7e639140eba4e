// The ffmpeg boundary: every call to ffmpeg/ffprobe goes through here and comes back as domain
// types (VideoProbe, RawFrame) or a MediaError that says what is wrong with the file.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { MediaError, ToolError, UsageError } from './errors';
import { PROJECT_ROOT } from './paths';
import type { RawFrame, VideoProbe } from './types';

export interface Tools {
  ffmpeg: string;
  ffprobe: string;
}

const DEFAULT_PROBE_TIMEOUT_MS = 30_000;
const DEFAULT_THUMBNAIL_TIMEOUT_MS = 30_000;
const DEFAULT_THUMBNAIL_WIDTH = 320;
const PACKET_SCAN_TIMEOUT_MS = 60_000;
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
function inputArgs(file: string, inputOptions: string[] = []): string[] {
  return [...inputOptions, '-protocol_whitelist', 'file', '-format_whitelist', PLAIN_DEMUXERS.join(','), '-i', inputUrl(file)];
}

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
  constructor(private readonly input: string) {}

  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
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
async function run(cmd: string, args: string[], input: string, opts: { signal?: AbortSignal; timeoutMs: number; tool: string }) {
  opts.signal?.throwIfAborted();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const done = exited(child, opts.tool);
  const stderr = new StderrTail(input);
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

// ffprobe's JSON, only the fields read here.
interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: Array<{ side_data_type?: string; rotation?: number }>;
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string };
}

/** Reads what the indexer needs to know about a video; MediaError when it is not a usable video. */
export async function probe(file: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<VideoProbe> {
  await checkReadable(file);
  const input = inputUrl(file);
  const result = await run(
    resolveTools().ffprobe,
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...inputArgs(file)],
    input,
    { signal: opts.signal, timeoutMs: opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, tool: 'ffprobe' },
  );
  if (result.code !== 0 && result.stderr.lines().some((l) => REFUSED.test(l))) throw refusedFormat(file, 'ffprobe');
  if (result.code !== 0) {
    throw new MediaError(`not a video file: ffprobe could not read it (${probeFailure(result.stderr) || `exit code ${result.code}`})`, {
      cause: { file, exitCode: result.code, stderr: result.stderr.lines() },
    });
  }
  let out: ProbeOutput;
  try {
    out = JSON.parse(result.stdout) as ProbeOutput;
  } catch {
    throw new MediaError('not a video file: ffprobe gave no readable description of it', { cause: { file } });
  }
  const streams = out.streams ?? [];
  const formatName = out.format?.format_name ?? '';
  // Cover art in audio files is a "video" stream too; it is not something to index.
  const videos = streams.filter((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const video = videos[0];
  if (!video) {
    const kinds = [...new Set(streams.map((s) => s.codec_type ?? 'unknown'))].join(', ') || 'none';
    throw new MediaError(`no video stream (streams: ${kinds})`, { cause: { file, formatName, streams: kinds } });
  }
  if (formatName.endsWith('_pipe')) {
    throw new MediaError(`not a video (still image, ${formatName})`, { cause: { file, formatName } });
  }
  const rotation = rotationOf(video);
  const sar = rational(video.sample_aspect_ratio);
  const codedWidth = Math.round((video.width ?? 0) * (sar > 0 ? sar : 1));
  const codedHeight = video.height ?? 0;
  const quarterTurn = rotation === 90 || rotation === 270;
  return {
    duration: positive(out.format?.duration) || positive(video.duration),
    width: quarterTurn ? codedHeight : codedWidth,
    height: quarterTurn ? codedWidth : codedHeight,
    rotation,
    fps: rational(video.avg_frame_rate) || rational(video.r_frame_rate),
    codec: video.codec_name ?? 'unknown',
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
    videoStreams: videos.length,
    formatName,
  };
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

// The `rotate` tag and ffprobe's display-matrix `rotation` disagree in direction: the tag is
// clockwise (what the player turns), the matrix angle counterclockwise.
function rotationOf(stream: ProbeStream): number {
  const tag = stream.tags?.rotate;
  const matrix = stream.side_data_list?.find((d) => d.side_data_type === 'Display Matrix')?.rotation;
  let clockwise = 0;
  if (tag !== undefined && Number.isFinite(Number(tag))) clockwise = Number(tag);
  else if (typeof matrix === 'number') clockwise = -matrix;
  return (((Math.round(clockwise / 90) * 90) % 360) + 360) % 360;
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
  const toFrame = (rgb: Uint8Array, index: number): RawFrame => ({ index, time: index / fps, rgb, width: size, height: size });

  let count = 0;
  const keyframesOnly = opts.keyframes !== 'never' && (await sampledFramesAreKeyframes(file, fps, opts.signal));
  const skip = keyframesOnly ? ['-skip_frame', 'nokey'] : [];
  for await (const rgb of decode(file, [`fps=fps=${fps}:round=up`, ...squareCrop(size)].join(','), [], opts, skip)) {
    yield toFrame(rgb, count++);
  }
  if (count > 0) return;
  // The fps filter drops frames it cannot place in time (e.g. missing timestamps); a decodable
  // video still deserves one frame, so take the first one as it is.
  for await (const rgb of decode(file, squareCrop(size).join(','), ['-frames:v', '1'], opts)) {
    yield toFrame(rgb, count++);
  }
  if (count === 0) throw new MediaError('no frames could be decoded from the video', { cause: { file } });
}

// Scale so the shorter *displayed* side (sample aspect ratio applied) becomes `size`, then cut the
// centre square: CLIP's own preprocessing (resize shortest side, centre crop) done by ffmpeg, with
// the bicubic filter CLIP uses. ceil keeps the longer side >= size, so the crop always fits.
function squareCrop(size: number): string[] {
  const wide = 'gte(iw*sar,ih)';
  return [
    `scale=w='if(${wide},ceil(${size}*iw*sar/ih),${size})':h='if(${wide},${size},ceil(${size}*ih/(iw*sar)))':flags=bicubic`,
    'setsar=1',
    `crop=${size}:${size}`,
  ];
}

/**
 * Whether ffmpeg's `fps=fps=<fps>:round=up` filter picks only keyframes from this video, so that
 * decoding keyframes alone (-skip_frame nokey) gives exactly the frames a full decode would.
 * Decided from the packet list (no decoding) by replaying the filter's rule on both frame sets:
 * tick t takes the last frame whose timestamp, rounded up to the tick grid, is <= t, and ticks
 * run from the first frame's up to (not including) the one that holds the end of the last frame.
 * Stops reading at the first sampled frame that is not a keyframe; any doubt means false.
 */
export async function sampledFramesAreKeyframes(file: string, fps: number, signal?: AbortSignal): Promise<boolean> {
  const rate = simpleRational(fps);
  if (!rate) return false;
  try {
    const input = inputUrl(file);
    const { ffprobe } = resolveTools();
    const info = await run(ffprobe, ['-v', 'error', '-select_streams', 'V:0', '-show_entries', 'stream=time_base:format=start_time', '-of', 'json', ...inputArgs(file)], input, {
      signal,
      timeoutMs: DEFAULT_PROBE_TIMEOUT_MS,
      tool: 'ffprobe',
    });
    if (info.code !== 0) return false;
    const parsed = JSON.parse(info.stdout) as { streams?: Array<{ time_base?: string }>; format?: { start_time?: string } };
    const [tbNum, tbDen] = (parsed.streams?.[0]?.time_base ?? '').split('/').map(Number);
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
    return await scanPackets(file, tick, signal);
  } catch {
    signal?.throwIfAborted();
    return false;
  }
}

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
async function scanPackets(file: string, tick: (pts: number) => number | undefined, signal?: AbortSignal): Promise<boolean> {
  const child = spawn(
    resolveTools().ffprobe,
    ['-v', 'error', '-select_streams', 'V:0', '-show_entries', 'packet=pts,duration,flags', '-of', 'csv=p=0', ...inputArgs(file)],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const done = exited(child, 'ffprobe');
  done.catch(() => {});
  const onAbort = () => kill(child);
  signal?.addEventListener('abort', onAbort, { once: true });
  // Reading the packet index is cheap (no decoding); a file where it is not gives up the shortcut.
  const timer = setTimeout(onAbort, PACKET_SCAN_TIMEOUT_MS);
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
  try {
    let rest = '';
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      const lines = (rest + chunk.toString('latin1')).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (!line) continue;
        const [pts, duration, flags = ''] = line.split(',');
        if (!/^-?\d+$/.test(pts) || !/^\d+$/.test(duration) || flags.includes('D')) return false;
        pending.push({ pts: Number(pts), duration: Number(duration), key: flags.startsWith('K') });
        if (pending.length > WINDOW) {
          pending.sort((a, b) => a.pts - b.pts);
          if (!release(pending.shift()!)) return false;
        }
      }
    }
    const exit = await done;
    if (exit.code !== 0) return false;
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
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    kill(child);
    await done.catch(() => {});
  }
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
async function* decode(file: string, filter: string, outputArgs: string[], opts: FrameOptions, inputOptions: string[] = []): AsyncGenerator<Uint8Array> {
  const { signal, size } = opts;
  signal?.throwIfAborted();
  const input = inputUrl(file);
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    ...(opts.threads ? ['-threads', String(opts.threads)] : []),
    ...inputArgs(file, inputOptions),
    // The first real video stream (not cover art), the one probe describes. Autorotation stays
    // on (ffmpeg's default), so rotated phone videos come out upright.
    '-map', '0:V:0',
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
      if (produced === 0 && stderr.lines().some((l) => l.includes("'0:V:0' matches no streams"))) {
        throw new MediaError('no video stream', { cause: { file } });
      }
      if (produced === 0 && stderr.lines().some((l) => REFUSED.test(l))) throw refusedFormat(file, 'ffmpeg');
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

/** Writes a JPEG of the frame at `time` seconds, `width` pixels wide, atomically (temp file + rename). */
export async function thumbnail(file: string, time: number, outFile: string, opts: { width?: number } = {}): Promise<void> {
  const width = opts.width ?? DEFAULT_THUMBNAIL_WIDTH;
  if (!Number.isInteger(width) || width <= 0) throw new UsageError(`thumbnail width must be a positive integer, got ${width}`);
  await checkReadable(file);
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
        '-map', '0:V:0',
        '-frames:v', '1',
        // Height from the display aspect ratio, so anamorphic video is not squeezed; even for the encoder.
        '-vf', `scale=w=${width}:h='max(2,trunc(ow/dar/2)*2)':flags=bicubic,setsar=1`,
        '-q:v', '3',
        '-f', 'mjpeg', '-y', tmp,
      ],
      input,
      { timeoutMs: DEFAULT_THUMBNAIL_TIMEOUT_MS, tool: 'ffmpeg' },
    );
    if (result.code !== 0 && result.stderr.lines().some((l) => REFUSED.test(l))) throw refusedFormat(file, 'ffmpeg');
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
