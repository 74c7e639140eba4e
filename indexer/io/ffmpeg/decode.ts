// Decoding: sampled video frames as CLIP's square RGB input (deinterlacing, HDR tone-mapping, the
// reference resize and crop), single pictures for image search, and JPEG thumbnails.
// Over 300 lines: the three share one decoder run (decode) and one filter chain (frameFilter and its
// parts); apart, each would need the chain's internals exported.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MediaError, UsageError } from '../../core/errors';
import type { RawFrame, VideoProbe, VideoSource } from '../../core/types';
import { checkReadable, parseDescription, probe } from './probe';
import { sampledFramesAreKeyframes } from './keyframes';
import { ERROR_LINES, IMAGE_DEMUXERS, REFUSED, StderrTail, crashSignal, crashed, exited, inputArgs, inputUrl, kill, missingFilter, refusedFormat, resolveTools, run } from './tools';

const DEFAULT_THUMBNAIL_TIMEOUT_MS = 30_000;
const DEFAULT_THUMBNAIL_WIDTH = 320;
const DECODE_NICENESS = 5;

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
      // ffmpeg's stderr is the only account of why it failed: it is read here, at the boundary,
      // into an error kind (not-a-video, tool-lacks-filter); callers branch on the kind.
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
 * (kind 'not-an-image' or 'too-large') otherwise. EXIF orientation is not applied (ffmpeg
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
  if (!info || !picture) throw new MediaError(NOT_AN_IMAGE, { cause: { file, formatName: info?.formatName }, kind: 'not-an-image' });
  if (picture.width * picture.height > MAX_IMAGE_PIXELS) {
    throw new MediaError(`the image is too large: ${picture.width} × ${picture.height} pixels (at most ${MAX_IMAGE_PIXELS / 1024 / 1024} megapixels)`, {
      cause: { file, width: picture.width, height: picture.height },
      kind: 'too-large',
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
    if (timeout.aborted) throw new MediaError(`ffmpeg timed out after ${timeoutMs / 1000} s decoding the image`, { cause: { file, timeoutMs }, kind: 'timeout' });
    if (err instanceof MediaError) throw new MediaError(`${NOT_AN_IMAGE} (${err.message})`, { cause: { file }, kind: 'not-an-image' });
    throw err;
  }
  throw new MediaError(`${NOT_AN_IMAGE} (no picture could be decoded)`, { cause: { file }, kind: 'not-an-image' });
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
