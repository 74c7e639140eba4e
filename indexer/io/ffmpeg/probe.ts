// Probing: what a video file holds (streams, duration, rotation, HDR, interlacing), read from
// ffmpeg's own description of the input, and which of its video streams is the main one.
// Over 300 lines: the parser of that description (parseDescription, parseStream) and the probe that
// runs and reads it change together, whenever ffmpeg's text or a new stream property does.
import fs from 'node:fs';
import { MediaError } from '../../core/errors';
import type { VideoProbe } from '../../core/types';
import { DEFAULT_PROBE_TIMEOUT_MS, ERROR_LINES, REFUSED, StderrTail, inputArgs, inputUrl, refusedFormat, resolveTools, run, toolLines } from './tools';

// How much of a file with several video streams is read to tell stills from video.
const STILL_SCAN_SECONDS = 30;

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
export function parseDescription(lines: string[]): MediaInfo | undefined {
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


export async function checkReadable(file: string): Promise<void> {
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
