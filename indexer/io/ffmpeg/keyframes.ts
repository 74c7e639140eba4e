// The keyframe shortcut: whether the frames a sampling rate picks are all keyframes, decided from
// ffprobe's packet list without decoding, so that decoding keyframes alone gives the same frames.
import type { VideoSource } from '../../core/types';
import { DEFAULT_PROBE_TIMEOUT_MS, inputArgs, inputUrl, resolveTools, run, toolLines } from './tools';

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
