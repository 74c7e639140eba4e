// Benchmark videos, generated with the bundled ffmpeg and cached under data/bench/videos.
// A moving test pattern (testsrc2) encoded as H.264 with CABAC and the deblocking filter on (what
// cameras and most files use; x264's ultrafast preset would turn both off and make decoding
// unrealistically cheap). A one-minute unit is encoded once and concatenated without re-encoding:
// the decoder cannot tell, so decoding costs what ten different minutes would.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveTools } from '../indexer/io/ffmpeg/media';

const run = promisify(execFile);

export interface VideoSpec {
  width: number;
  height: number;
  /** source frame rate */
  rate: number;
  seconds: number;
  /** frames between keyframes (x264 keyint; x264's own default is 250) */
  keyint: number;
  crf?: number;
}

export function describeVideo(s: VideoSpec): string {
  const gop = s.keyint / s.rate;
  const mins = s.seconds >= 120 ? `${s.seconds / 60} min` : `${s.seconds} s`;
  return `${mins} ${s.width}x${s.height} ${s.rate} fps H.264, keyframe every ${gop % 1 ? gop.toFixed(2) : gop} s`;
}

function specName(s: VideoSpec): string {
  return `tsrc2-${s.width}x${s.height}-${s.rate}fps-${s.seconds}s-k${s.keyint}-crf${s.crf ?? 23}`;
}

/** The video's path, generating it first when it is not cached. */
export async function ensureVideo(dir: string, spec: VideoSpec, log: (m: string) => void = () => {}): Promise<string> {
  const name = specName(spec);
  const out = path.resolve(dir, `${name}.mp4`);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(dir, { recursive: true });
  const { ffmpeg } = resolveTools();
  const unitSeconds = Math.min(60, spec.seconds);
  const units = Math.ceil(spec.seconds / unitSeconds);
  const unit = path.resolve(dir, `.${name}.unit.mp4`);
  const tmp = path.resolve(dir, `.${name}.tmp.mp4`);
  const list = path.resolve(dir, `.${name}.list.txt`);
  const started = Date.now();
  log(`generating ${describeVideo(spec)} (once; cached in ${path.relative(process.cwd(), dir)})`);
  try {
    await run(ffmpeg, [
      '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.rate}`,
      '-t', String(unitSeconds),
      '-c:v', 'libx264', '-preset', 'ultrafast',
      // Back on what ultrafast turns off and every camera uses; fixed GOP, no scene-cut keyframes.
      '-x264-params', `cabac=1:deblock=1:keyint=${spec.keyint}:min-keyint=${spec.keyint}:scenecut=0`,
      '-crf', String(spec.crf ?? 23), '-pix_fmt', 'yuv420p',
      unit,
    ]);
    fs.writeFileSync(list, Array.from({ length: units }, () => `file '${unit}'\n`).join(''));
    await run(ffmpeg, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-t', String(spec.seconds), '-c', 'copy', tmp]);
    fs.renameSync(tmp, out);
  } finally {
    for (const f of [unit, tmp, list]) fs.rmSync(f, { force: true });
  }
  const mbps = (fs.statSync(out).size * 8) / spec.seconds / 1e6;
  log(`generated ${path.basename(out)} in ${((Date.now() - started) / 1000).toFixed(0)} s (${mbps.toFixed(1)} Mbit/s)`);
  return out;
}

export function bitrateMbps(file: string, seconds: number): number {
  return (fs.statSync(file).size * 8) / seconds / 1e6;
}

/** The codecs the decode benchmark measures, each made with an encoder the bundled ffmpeg has. */
export interface CodecClip {
  name: 'h264' | 'hevc' | 'vp9' | 'av1';
  encoder: string;
  args: string[];
  /** frames to encode; AV1 through the 2018 libaom encodes at seconds per 1080p frame */
  frames: number;
  quickFrames: number;
}

export const DECODE_CODECS: CodecClip[] = [
  { name: 'h264', encoder: 'libx264', args: ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p'], frames: 600, quickFrames: 150 },
  { name: 'hevc', encoder: 'libx265', args: ['-c:v', 'libx265', '-preset', 'ultrafast', '-crf', '26', '-pix_fmt', 'yuv420p', '-x265-params', 'log-level=error'], frames: 600, quickFrames: 150 },
  { name: 'vp9', encoder: 'libvpx-vp9', args: ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '5M', '-pix_fmt', 'yuv420p'], frames: 600, quickFrames: 150 },
  { name: 'av1', encoder: 'libaom-av1', args: ['-c:v', 'libaom-av1', '-strict', 'experimental', '-cpu-used', '8', '-b:v', '4M', '-pix_fmt', 'yuv420p'], frames: 30, quickFrames: 10 },
];

/** A 1080p30 testsrc2 clip in the codec, generated once and cached. */
export async function ensureCodecClip(dir: string, codec: CodecClip, quick: boolean, log: (m: string) => void = () => {}): Promise<{ file: string; frames: number }> {
  const frames = quick ? codec.quickFrames : codec.frames;
  const file = path.resolve(dir, `decode-${codec.name}-1080p30-${frames}f.mkv`);
  if (fs.existsSync(file)) return { file, frames };
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp.mkv`;
  log(`generating ${frames} frames of 1080p30 ${codec.name} with ${codec.encoder} (once; cached)`);
  await run(resolveTools().ffmpeg, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-frames:v', String(frames), ...codec.args, tmp]);
  fs.renameSync(tmp, file);
  return { file, frames };
}
