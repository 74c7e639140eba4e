import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MediaError } from '../indexer/core/errors';
import { frames, probe, resolveTools, thumbnail } from '../indexer/io/ffmpeg/media';
import type { RawFrame } from '../indexer/core/types';
import {
  makeAudioOnly,
  makeColorVideo,
  makeEmpty,
  makeRandomBytes,
  makeStillImage,
  makeTextFile,
  makeTruncated,
  makeUntimedFrame,
  type RGB,
} from './fixtures/videos';

const SIZE = 224;
const RED: RGB = [255, 0, 0];
const GREEN: RGB = [0, 255, 0];
const BLUE: RGB = [0, 0, 255];
// yuv420p round trips shift solid colours by a few levels
const TOLERANCE = 8;

let dir: string;
const file = (name: string) => path.join(dir, name);

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-media-'));
  await Promise.all([
    makeColorVideo(file('red5.mp4'), [{ color: RED, seconds: 5 }]),
    makeColorVideo(file('brg.mp4'), [
      { color: BLUE, seconds: 2 },
      { color: RED, seconds: 2 },
      { color: GREEN, seconds: 2 },
    ]),
    makeColorVideo(file('long.mp4'), [{ color: GREEN, seconds: 30 }]),
  ]);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function collect(source: AsyncIterable<RawFrame>): Promise<RawFrame[]> {
  const out: RawFrame[] = [];
  for await (const f of source) out.push(f);
  return out;
}

function pixel(f: RawFrame, x: number, y: number): RGB {
  const i = (y * f.width + x) * 3;
  return [f.rgb[i], f.rgb[i + 1], f.rgb[i + 2]];
}

function near(actual: RGB, expected: RGB): boolean {
  return actual.every((v, i) => Math.abs(v - expected[i]) <= TOLERANCE);
}

/** Whether every pixel of the frame is near `expected`. */
function solid(f: RawFrame, expected: RGB): boolean {
  for (let i = 0; i < f.rgb.length; i += 3) {
    if (!near([f.rgb[i], f.rgb[i + 1], f.rgb[i + 2]], expected)) return false;
  }
  return true;
}

/** ffmpeg processes whose parent is this test process. */
function ffmpegChildren(): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while listing
    }
    // "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === process.pid && comm === 'ffmpeg') pids.push(Number(entry));
  }
  return pids;
}

test('resolveTools finds executable ffmpeg and ffprobe, once', () => {
  const tools = resolveTools();
  for (const bin of [tools.ffmpeg, tools.ffprobe]) fs.accessSync(bin, fs.constants.X_OK);
  assert.equal(resolveTools(), tools);
});

test('resolveTools says what to do when FFMPEG_PATH is wrong', async () => {
  const script = `import('./indexer/io/ffmpeg/media.ts').then((m) => { try { m.resolveTools(); } catch (e) { console.log(e.name + ': ' + e.message); } });`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: { ...process.env, FFMPEG_PATH: path.join(dir, 'no-such-ffmpeg') },
  });
  assert.match(stdout, /^ToolError: ffmpeg not found: FFMPEG_PATH=.*no-such-ffmpeg is not an executable file\. Set FFMPEG_PATH .* \(npm install\)/);
});

test('probe describes a generated video', async () => {
  const p = await probe(file('red5.mp4'));
  assert.ok(Math.abs(p.duration - 5) < 0.05, `duration ${p.duration}`);
  assert.equal(p.width, 160);
  assert.equal(p.height, 120);
  assert.equal(p.rotation, 0);
  assert.equal(p.fps, 10);
  assert.equal(p.codec, 'h264');
  assert.equal(p.hasAudio, false);
  assert.equal(p.videoStreams, 1);
  assert.match(p.formatName, /mp4/);
});

test('rotated videos: probe reports the displayed size, frames come out upright', async () => {
  // Red on top, blue below, as stored. Turned clockwise by 90 the top ends up on the right.
  const [lo, mid, hi] = [10, SIZE / 2, SIZE - 10];
  const expected: Record<90 | 180 | 270, Array<[number, number, RGB]>> = {
    90: [[lo, mid, BLUE], [hi, mid, RED]],
    180: [[mid, lo, BLUE], [mid, hi, RED]],
    270: [[lo, mid, RED], [hi, mid, BLUE]],
  };
  for (const rotate of [90, 180, 270] as const) {
    const f = file(`rot${rotate}.mp4`);
    await makeColorVideo(f, [{ color: RED, bottom: BLUE, seconds: 1 }], { rotate });
    const p = await probe(f);
    assert.equal(p.rotation, rotate);
    assert.deepEqual([p.width, p.height], rotate === 180 ? [160, 120] : [120, 160], `size at ${rotate}`);
    const [first] = await collect(frames(f, { fps: 1, size: SIZE, probe: p }));
    assert.equal(first.rgb.length, SIZE * SIZE * 3);
    assert.deepEqual([first.width, first.height], [SIZE, SIZE]);
    for (const [x, y, color] of expected[rotate]) {
      assert.ok(near(pixel(first, x, y), color), `rotation ${rotate}: at (${x},${y}) expected ${color}, saw ${pixel(first, x, y)}`);
    }
  }
});

test('1 fps over 5 s gives exactly 5 frames at 0, 1, 2, 3, 4 s', async () => {
  // Sampling rounds timestamps up, so frame k is the picture on screen at k/fps and a video of
  // d seconds gives ceil(d * fps) frames.
  const got = await collect(frames(file('red5.mp4'), { fps: 1, size: SIZE, threads: 1 }));
  assert.deepEqual(got.map((f) => f.index), [0, 1, 2, 3, 4]);
  assert.deepEqual(got.map((f) => f.time), [0, 1, 2, 3, 4]);
  for (const f of got) {
    assert.equal(f.rgb.length, SIZE * SIZE * 3);
    assert.deepEqual([f.width, f.height], [SIZE, SIZE]);
  }
});

test('a solid red video gives red frames', async () => {
  const got = await collect(frames(file('red5.mp4'), { fps: 1, size: SIZE }));
  assert.ok(got.length > 0);
  for (const f of got) assert.ok(solid(f, RED), `frame ${f.index} at (0,0) is ${pixel(f, 0, 0)}`);
});

test('colours change at the right times', async () => {
  const got = await collect(frames(file('brg.mp4'), { fps: 1, size: SIZE }));
  const expected = [BLUE, BLUE, RED, RED, GREEN, GREEN];
  assert.equal(got.length, expected.length);
  got.forEach((f, i) => assert.ok(solid(f, expected[i]), `frame at ${f.time} s is ${pixel(f, 0, 0)}, expected ${expected[i]}`));
});

test('other sampling rates give ceil(duration * fps) frames', async () => {
  for (const [fps, count] of [[0.5, 3], [2.5, 15]] as const) {
    const got = await collect(frames(file('brg.mp4'), { fps, size: 16 }));
    assert.equal(got.length, count, `at ${fps} fps`);
    assert.equal(got.at(-1)!.time, (count - 1) / fps);
  }
});

test('a video shorter than the sampling interval still gives its first frame', async () => {
  await makeColorVideo(file('short.mp4'), [{ color: GREEN, seconds: 0.3 }]);
  const got = await collect(frames(file('short.mp4'), { fps: 1, size: SIZE }));
  assert.equal(got.length, 1);
  assert.equal(got[0].time, 0);
  assert.ok(solid(got[0], GREEN));
});

test('a frame the fps filter drops is still delivered', async () => {
  await makeUntimedFrame(file('untimed.ts'));
  const got = await collect(frames(file('untimed.ts'), { fps: 1, size: 32 }));
  assert.equal(got.length, 1);
  assert.equal(got[0].time, 0);
  assert.ok(near(pixel(got[0], 16, 16), RED), `saw ${pixel(got[0], 16, 16)}`);
});

test('odd sizes work (101x57)', async () => {
  await makeColorVideo(file('odd.mp4'), [{ color: BLUE, seconds: 2 }], { width: 101, height: 57 });
  const p = await probe(file('odd.mp4'));
  assert.deepEqual([p.width, p.height], [101, 57]);
  const got = await collect(frames(file('odd.mp4'), { fps: 1, size: SIZE }));
  assert.equal(got.length, 2);
  for (const f of got) assert.ok(solid(f, BLUE));
});

test('variable frame rate works', async () => {
  await makeColorVideo(file('vfr.mp4'), [{ color: BLUE, seconds: 2 }, { color: RED, seconds: 2 }], { vfr: true });
  const p = await probe(file('vfr.mp4'));
  assert.notEqual(p.fps, 10, 'the fixture should not be constant 10 fps');
  const got = await collect(frames(file('vfr.mp4'), { fps: 1, size: 64 }));
  assert.deepEqual(got.map((f) => f.time), [0, 1, 2, 3]);
  [BLUE, BLUE, RED, RED].forEach((c, i) => assert.ok(solid(got[i], c), `frame ${i} is ${pixel(got[i], 0, 0)}`));
});

test('unusable files give a MediaError that says why', async () => {
  await makeEmpty(file('empty.mp4'));
  await makeRandomBytes(file('random.mp4'), 64 * 1024);
  await makeTextFile(file('text.mkv'));
  await makeAudioOnly(file('audio.m4a'));
  await makeStillImage(file('still.png'));
  const cases: Array<[string, RegExp]> = [
    ['missing.mp4', /^cannot read the file \(no such file\)$/],
    ['empty.mp4', /^empty file \(0 bytes\)$/],
    ['random.mp4', /^not a video file: ffmpeg could not read it \(moov atom not found: Invalid data found when processing input\)$/],
    ['text.mkv', /^not a video file: ffmpeg could not read it \(EBML header parsing failed: Invalid data found when processing input\)$/],
    ['audio.m4a', /^no video stream \(streams: audio\)$/],
    ['still.png', /^not a video \(still image, png_pipe\)$/],
  ];
  for (const [name, message] of cases) {
    await assert.rejects(probe(file(name)), (err: Error) => {
      assert.ok(err instanceof MediaError, `${name}: ${err}`);
      assert.match(err.message, message, name);
      assert.equal((err.cause as { file: string }).file, file(name));
      return true;
    });
  }
  // frames() on its own, without a probe first, fails as clearly
  await assert.rejects(collect(frames(file('audio.m4a'), { fps: 1, size: 32 })), (err: Error) => {
    assert.ok(err instanceof MediaError);
    assert.match(err.message, /^no video stream/);
    return true;
  });
});

test('a truncated video gives fewer frames or a MediaError, and finishes', { timeout: 15_000 }, async () => {
  await makeTruncated(file('truncated.mp4'));
  try {
    const got = await collect(frames(file('truncated.mp4'), { fps: 1, size: 32 }));
    assert.ok(got.length < 4, `the whole video has 4 frames, got ${got.length}`);
  } catch (err) {
    assert.ok(err instanceof MediaError, String(err));
  }
});

test('ffmpeg failing after some frames is an error, with its last words', async () => {
  // Real ffmpeg decodes everything, then the wrapper reports a failure, as a decoder error would.
  const wrapper = file('failing-ffmpeg.sh');
  fs.writeFileSync(wrapper, `#!/bin/sh\n"${resolveTools().ffmpeg}" "$@"\necho "[h264 @ 0x1234] simulated decoder failure" >&2\nexit 1\n`, { mode: 0o755 });
  const script = `
    const { frames } = await import('./indexer/io/ffmpeg/media.ts');
    let n = 0;
    try { for await (const f of frames(${JSON.stringify(file('red5.mp4'))}, { fps: 1, size: 8 })) n++; }
    catch (e) { console.log(n + ' ' + e.name + ': ' + e.message); }`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: { ...process.env, FFMPEG_PATH: wrapper },
  });
  assert.equal(stdout.trim(), '5 MediaError: decoding failed after 5 frames: [h264] simulated decoder failure');
});

test('stopping early kills ffmpeg', async () => {
  // 300 frames of 150 KB: far more than the pipe holds, so ffmpeg is still running at frame 2.
  let seen = 0;
  let runningBefore: number[] = [];
  for await (const f of frames(file('long.mp4'), { fps: 10, size: SIZE })) {
    seen = f.index + 1;
    if (seen === 2) {
      runningBefore = ffmpegChildren();
      break;
    }
  }
  assert.equal(seen, 2);
  assert.equal(runningBefore.length, 1, 'ffmpeg should be running while frames are pulled');
  assert.deepEqual(ffmpegChildren(), []);
});

test('aborting kills ffmpeg and rejects with the abort reason', async () => {
  const controller = new AbortController();
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const f of frames(file('long.mp4'), { fps: 10, size: SIZE, signal: controller.signal })) {
        seen = f.index + 1;
        if (seen === 3) controller.abort();
      }
    })(),
    { name: 'AbortError' },
  );
  assert.equal(seen, 3);
  assert.deepEqual(ffmpegChildren(), []);
  await assert.rejects(probe(file('red5.mp4'), { signal: controller.signal }), { name: 'AbortError' });
});

test('thumbnail writes a JPEG atomically', async () => {
  const out = file('thumbs/brg-3.jpg');
  await thumbnail(file('brg.mp4'), 3, out);
  const bytes = fs.readFileSync(out);
  assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xd8]);
  assert.deepEqual(fs.readdirSync(path.dirname(out)), ['brg-3.jpg']);
  await assert.rejects(thumbnail(file('brg.mp4'), 60, file('thumbs/late.jpg')), /no frame at 60 s/);
  assert.deepEqual(fs.readdirSync(path.dirname(out)), ['brg-3.jpg']);
});
