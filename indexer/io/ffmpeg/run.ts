// Running ffmpeg and ffprobe safely: what they may open (the file: protocol, a list of plain
// demuxers), bounded stderr, timeouts and aborts, crashes told apart from a bad file, and the
// versions that say which build crashed. tools.ts finds the binaries and re-exports this file.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { MediaError, ToolError } from '../../core/errors';

const PACKET_SCAN_TIMEOUT_MS = 60_000;
const STDERR_TAIL_BYTES = 8 * 1024;
export const ERROR_LINES = 3;

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
      throw new MediaError(`${opts.tool} timed out after ${opts.timeoutMs / 1000} s`, { cause: { file: input, timeoutMs: opts.timeoutMs }, kind: 'timeout' });
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
