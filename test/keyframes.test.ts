// Keyframe-only decoding must be invisible: when the sampling picks only keyframes, frames() decodes
// just those, and the frames must be exactly (bit for bit) the ones a full decode gives.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { frames, resolveTools, sampledFramesAreKeyframes } from '../indexer/io/ffmpeg/media';
import type { RawFrame } from '../indexer/core/types';

const run = promisify(execFile);
let dir: string;

/** A moving test pattern, 30 fps, with a keyframe every `keyint` frames (and no others). */
async function clip(name: string, seconds: number, keyint: number, extra: string[] = []): Promise<string> {
  const file = path.join(dir, name);
  await run(resolveTools().ffmpeg, [
    '-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=30', '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-x264-params', `keyint=${keyint}:min-keyint=${keyint}:scenecut=0`, '-pix_fmt', 'yuv420p',
    ...extra, file,
  ]);
  return file;
}

async function collect(source: AsyncIterable<RawFrame>): Promise<RawFrame[]> {
  const out: RawFrame[] = [];
  for await (const f of source) out.push(f);
  return out;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-keyframes-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const cases: Array<{ seconds: number; keyint: number; fps: number; fast: boolean; extra?: string[] }> = [
  { seconds: 10, keyint: 30, fps: 1, fast: true }, // a keyframe every second, sampled every second
  { seconds: 10.5, keyint: 30, fps: 1, fast: true }, // a partial last second
  { seconds: 10.1, keyint: 15, fps: 2, fast: true },
  { seconds: 10, keyint: 30, fps: 2, fast: false }, // every other sample falls between keyframes
  { seconds: 10, keyint: 60, fps: 1, fast: false },
  { seconds: 6, keyint: 250, fps: 1, fast: false }, // x264's default GOP
  { seconds: 6, keyint: 30, fps: 1, fast: true, extra: ['-bf', '2'] }, // B-frames: packets come out of presentation order
  { seconds: 6, keyint: 30, fps: 0.5, fast: true },
];

for (const c of cases) {
  test(`${c.seconds} s, keyframe every ${c.keyint} frames, ${c.fps} fps${c.extra ? ' ' + c.extra.join(' ') : ''}: ${c.fast ? 'keyframes only' : 'full decode'}, same frames`, async () => {
    const file = await clip(`k${c.keyint}-${c.seconds}-${c.fps}-${c.extra?.length ?? 0}.mp4`, c.seconds, c.keyint, c.extra);
    const fast = await sampledFramesAreKeyframes(file, c.fps);
    assert.equal(fast, c.fast);
    const [auto, full] = await Promise.all([
      collect(frames(file, { fps: c.fps, size: 64, threads: 1 })),
      collect(frames(file, { fps: c.fps, size: 64, threads: 1, keyframes: 'never' })),
    ]);
    assert.equal(auto.length, full.length);
    assert.ok(full.length >= Math.floor(c.seconds * c.fps));
    auto.forEach((f, i) => {
      assert.equal(f.time, full[i].time);
      assert.ok(Buffer.from(f.rgb).equals(Buffer.from(full[i].rgb)), `frame ${i} differs`);
    });
  });
}

test('a start offset (edit list / shifted timestamps) is handled the way ffmpeg handles it', async () => {
  const file = await clip('offset.mp4', 8, 30, ['-output_ts_offset', '0.5']);
  assert.equal(await sampledFramesAreKeyframes(file, 1), true);
  const [auto, full] = await Promise.all([
    collect(frames(file, { fps: 1, size: 64, threads: 1 })),
    collect(frames(file, { fps: 1, size: 64, threads: 1, keyframes: 'never' })),
  ]);
  assert.equal(auto.length, full.length);
  auto.forEach((f, i) => assert.ok(Buffer.from(f.rgb).equals(Buffer.from(full[i].rgb)), `frame ${i} differs`));
});
