// `vidsearch export-features`: the frame vectors of captioned videos and the text vectors of their
// captions, for training the transformer pooler (models/pooler/train.py) without decoding or
// running CLIP again in Python. Format "vidsearch-features/1", a folder of three files:
//
//   features.json  {"format": "vidsearch-features/1", "dim": D, "model": <model identity>,
//                   "fps": f, "segmentSeconds": s, "frames": "frames.f32", "texts": "texts.f32",
//                   "videos": [{"path", "frameOffset", "frameCount", "times": [seconds...]}],
//                   "captions": [{"video": <index into videos>, "text": "..."}]}
//   frames.f32     little-endian float32, [total frames, D], row-major: video i's L2-normalized
//                  frame vectors in time order at rows frameOffset .. frameOffset + frameCount
//   texts.f32      little-endian float32, [captions, D]: row i is caption i's L2-normalized vector
//
// numpy: np.fromfile("frames.f32", "<f4").reshape(-1, D).
import fs from 'node:fs';
import path from 'node:path';
import { indexTargets, type Engine, type IndexEvent } from './pipeline';
import type { CaptionItem } from './eval';

export const FEATURES_FORMAT = 'vidsearch-features/1';

export interface FeaturesReport {
  out: string;
  videos: number;
  frames: number;
  captions: number;
  dim: number;
  excluded: Array<{ path: string; reason: string }>;
}

function writeRows(fd: number, rows: Float32Array[]): void {
  for (const r of rows) {
    // Float32Array is little-endian on every platform Node runs on.
    fs.writeSync(fd, new Uint8Array(r.buffer, r.byteOffset, r.byteLength));
  }
}

/** Indexes (or reuses) the captioned videos, then writes their features to `outDir`. */
export async function exportFeatures(
  engine: Engine,
  items: CaptionItem[],
  outDir: string,
  opts: { signal?: AbortSignal; onEvent?: (e: IndexEvent) => void } = {},
): Promise<FeaturesReport> {
  const out = path.resolve(outDir);
  const paths = [...new Set(items.map((i) => i.path))];
  const report = await indexTargets(engine, paths, { signal: opts.signal, onEvent: opts.onEvent });
  if (opts.signal?.aborted) throw new Error('interrupted');
  fs.mkdirSync(out, { recursive: true });
  const dim = engine.model.dim;
  const videos: Array<{ path: string; frameOffset: number; frameCount: number; times: number[] }> = [];
  const excluded: FeaturesReport['excluded'] = [];
  const index = new Map<string, number>();
  const framesTmp = path.join(out, `frames.f32.${process.pid}.tmp`);
  const textsTmp = path.join(out, `texts.f32.${process.pid}.tmp`);
  let offset = 0;
  const fd = fs.openSync(framesTmp, 'w');
  try {
    for (const p of paths) {
      const v = await engine.store.videoByPath(p);
      const frames = v?.status === 'indexed' ? await engine.store.frames(v.id) : [];
      if (!v || v.status !== 'indexed' || frames.length === 0) {
        excluded.push({ path: p, reason: v?.error ?? report.failed.find((f) => f.path === p)?.error ?? 'not indexed' });
        continue;
      }
      writeRows(fd, frames.map((f) => f.vector));
      index.set(p, videos.length);
      videos.push({ path: p, frameOffset: offset, frameCount: frames.length, times: frames.map((f) => f.time) });
      offset += frames.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  const captions = items.filter((i) => i.caption && index.has(i.path)).map((i) => ({ video: index.get(i.path)!, text: i.caption! }));
  const tfd = fs.openSync(textsTmp, 'w');
  try {
    for (let at = 0; at < captions.length; at += 64) {
      writeRows(tfd, await engine.model.encodeTexts(captions.slice(at, at + 64).map((c) => c.text)));
    }
  } finally {
    fs.closeSync(tfd);
  }
  const meta = {
    format: FEATURES_FORMAT,
    dim,
    model: engine.model.identity,
    fps: engine.cfg.fps,
    segmentSeconds: engine.cfg.segmentSeconds,
    frames: 'frames.f32',
    texts: 'texts.f32',
    videos,
    captions,
  };
  fs.renameSync(framesTmp, path.join(out, 'frames.f32'));
  fs.renameSync(textsTmp, path.join(out, 'texts.f32'));
  const metaTmp = path.join(out, `features.json.${process.pid}.tmp`);
  fs.writeFileSync(metaTmp, JSON.stringify(meta) + '\n');
  fs.renameSync(metaTmp, path.join(out, 'features.json'));
  return { out, videos: videos.length, frames: offset, captions: captions.length, dim, excluded };
}
