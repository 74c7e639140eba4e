// ffmpeg and ffprobe themselves: finding the binaries, what they are and decode (toolReport), and
// running them safely (what they may open, bounded stderr, timeouts, aborts, crashes told apart
// from a bad file). The other files of io/ffmpeg run every tool through here.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { MediaError, ToolError } from '../../core/errors';
import { PROJECT_ROOT } from '../files/paths';
// The one module that reads settings from the environment (FFMPEG_PATH, FFPROBE_PATH).
import { toolPaths } from '../../services/config';

export interface Tools {
  ffmpeg: string;
  ffprobe: string;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 30_000;
const PACKET_SCAN_TIMEOUT_MS = 60_000;
const STDERR_TAIL_BYTES = 8 * 1024;
export const ERROR_LINES = 3;

let tools: Tools | undefined;

/** The ffmpeg and ffprobe binaries: FFMPEG_PATH/FFPROBE_PATH, then ffmpeg-static, then the installer packages. */
export function resolveTools(): Tools {
  if (tools) return tools;
  // Resolve packages from the project root, not from this file: under Next.js this module is
  // bundled somewhere else and a require relative to it would not find node_modules.
  const require = createRequire(path.join(PROJECT_ROOT, 'package.json'));
  const chosen = toolPaths();
  tools = {
    ffmpeg: findTool('ffmpeg', 'FFMPEG_PATH', chosen.ffmpegPath, [
      () => require('ffmpeg-static') as string | null,
      () => (require('@ffmpeg-installer/ffmpeg') as { path: string }).path,
    ]),
    ffprobe: findTool('ffprobe', 'FFPROBE_PATH', chosen.ffprobePath, [() => (require('@ffprobe-installer/ffprobe') as { path: string }).path]),
  };
  return tools;
}

function findTool(name: string, envVar: string, fromEnv: string | undefined, candidates: Array<() => string | null>): string {
  const hint = `Set ${envVar} to an ${name} binary, or reinstall the dependencies (npm install).`;
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
export async function missingFilter(lines: string[], file: string): Promise<ToolError | undefined> {
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
export function inputUrl(file: string): string {
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
export const PLAIN_DEMUXERS = [
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
export function inputArgs(file: string, inputOptions: string[] = [], demuxers: readonly string[] = PLAIN_DEMUXERS): string[] {
  return [...inputOptions, '-protocol_whitelist', 'file', '-format_whitelist', demuxers.join(','), '-i', inputUrl(file)];
}

/** The single-picture demuxers of PLAIN_DEMUXERS: all a search image may be read with. */
export const IMAGE_DEMUXERS = PLAIN_DEMUXERS.filter((d) => d.endsWith('_pipe'));

// What ffmpeg says when a demuxer or protocol is not allowed ("Format not on whitelist '...'").
export const REFUSED = /not on whitelist/i;

/**
 * The one answer for a file whose format is not allowed, whatever it is and whatever it names:
 * nothing it refers to is opened, so nothing about those files (do they exist, are they videos)
 * can show in the answer.
 */
export function refusedFormat(file: string, tool: string): MediaError {
  return new MediaError('not a video file: not a plain video container (playlists, lists of other files and image sequences are not opened)', {
    cause: { file, tool, allowed: PLAIN_DEMUXERS.join(',') },
  });
}

/** Keeps the last few KiB of a child's stderr: enough to explain a failure, bounded for long runs. */
export class StderrTail {
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

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Resolves when the child has exited and its pipes are closed; a spawn failure becomes a ToolError. */
export function exited(child: ChildProcess, tool: string): Promise<Exit> {
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

export function crashSignal(exit: Exit): NodeJS.Signals | undefined {
  if (exit.signal) return exit.signal;
  return CRASH_SIGNALS.find((sig) => exit.code === 128 + os.constants.signals[sig]);
}

const versions = new Map<string, string>();

/**
 * "4.1.4-static" from `<tool> -version`; undefined when the tool cannot even say that. Asked only
 * after a crash; a working answer is remembered, a broken one is not (the tool may be reinstalled
 * under a running daemon).
 */
export function toolVersion(bin: string): string | undefined {
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
export function crashed(bin: string, tool: string, file: string, signal: NodeJS.Signals): ToolError {
  const version = toolVersion(bin);
  if (version === undefined) {
    return new ToolError(`${tool} is broken: it was killed by ${signal} and cannot run \`${bin} -version\` either. Set ${tool === 'ffprobe' ? 'FFPROBE_PATH' : 'FFMPEG_PATH'} to a working ${tool}`, { kind: 'cannot-run', tool, path: bin, file, signal });
  }
  return new ToolError(
    `${tool} ${version} crashed (signal ${signal}) on ${file}: a bug in ${tool}, not a verdict on the file; nothing was recorded against it, so it is tried again next time (a newer ${tool}, ${tool === 'ffprobe' ? 'FFPROBE_PATH' : 'FFMPEG_PATH'}, may read it)`,
    { kind: 'crashed', tool, path: bin, file, signal, version },
  );
}

export function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Runs a short-lived tool to completion, collecting stdout; kills it on abort or timeout. */
export async function run(cmd: string, args: string[], input: string, opts: { signal?: AbortSignal; timeoutMs: number; tool: string; stderrBytes?: number }) {
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
 * Runs a tool whose stdout is read line by line (packet listings: cheap, no decoding), killed on
 * abort or after PACKET_SCAN_TIMEOUT_MS. `onLine` returning false stops it early (`stopped`).
 * A spawn failure rejects with the ToolError of exited().
 */
export async function toolLines(cmd: string, tool: string, args: string[], signal: AbortSignal | undefined, onLine: (line: string) => boolean | void): Promise<{ exit?: Exit; stopped: boolean }> {
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
