// The videos people have: a matrix of containers, codecs and stream layouts, generated with the
// bundled ffmpeg, each a solid colour from the test model's palette. Every file must come out of
// the real pipeline (probe → frames → test model) with its own colour ranked first, or fail with a
// message a user can act on. Plus the pixel-level checks behind it: HDR tone-mapping,
// deinterlacing, the reference (Hugging Face CLIPImageProcessor) geometry, and SDR frames that are
// the same bytes as before.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openEngine, type OpenEngine } from '../indexer/services/engine';
import { MediaError } from '../indexer/core/errors';
import { clipGeometry, frames, probe, resolveTools, thumbnail, toolReport } from '../indexer/io/ffmpeg/media';
import { encodeVideo } from '../indexer/services/pipeline';
import { makeColorVideo, runFfmpeg } from '../indexer/testkit/samples';
import { colorVector, TEST_COLORS } from '../indexer/testkit/build';
import type { RawFrame } from '../indexer/core/types';
import { tempDir, testConfig } from './helpers';

type RGB = [number, number, number];
const hex = (c: RGB) => '0x' + c.map((v) => v.toString(16).padStart(2, '0')).join('');
const color = (name: keyof typeof TEST_COLORS): RGB => TEST_COLORS[name];

let dir: string;
const file = (name: string) => path.join(dir, name);
let engine: OpenEngine;

before(async () => {
  dir = tempDir('vidsearch-formats-');
  engine = await openEngine(await testConfig(), { writer: true });
});
after(async () => {
  await engine?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function collect(source: AsyncIterable<RawFrame>): Promise<RawFrame[]> {
  const out: RawFrame[] = [];
  for await (const f of source) out.push(f);
  return out;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/** The whole video's vector (mean of its frame vectors), through the real pipeline. */
async function videoVector(f: string): Promise<Float32Array> {
  const { vectors } = await encodeVideo(engine, f, undefined, () => {});
  assert.ok(vectors.length > 0, `${path.basename(f)}: no frames`);
  const mean = new Float32Array(vectors[0].vector.length);
  for (const { vector } of vectors) vector.forEach((v, i) => (mean[i] += v / vectors.length));
  return mean;
}

/** The palette colours ranked by the test model for this video, best first. */
async function rankedColours(f: string): Promise<string[]> {
  const v = await videoVector(f);
  return Object.keys(TEST_COLORS).sort((a, b) => cosine(v, colorVector(TEST_COLORS[b])) - cosine(v, colorVector(TEST_COLORS[a])));
}

const src = (c: RGB, opts: { s?: string; d?: number; r?: number } = {}) => ['-f', 'lavfi', '-i', `color=c=${hex(c)}:s=${opts.s ?? '96x64'}:d=${opts.d ?? 2}:r=${opts.r ?? 10}`];
const tone = ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=2'];
const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const x265 = ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error'];
const interlacedH264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-flags', '+ilme+ildct', '-x264opts', 'tff=1'];

/** HDR: the SDR colour converted to PQ or HLG in BT.2020, 10-bit HEVC, tagged as such. */
function hdrArgs(c: RGB, transfer: 'smpte2084' | 'arib-std-b67'): string[] {
  return [
    ...src(c),
    '-vf', `format=gbrp,zscale=tin=709:pin=709:rin=pc:t=${transfer}:p=2020:m=2020_ncl:r=tv:npl=100,format=yuv420p10le`,
    ...x265, '-pix_fmt', 'yuv420p10le', '-color_primaries', 'bt2020', '-color_trc', transfer, '-colorspace', 'bt2020nc',
  ];
}

interface Case {
  name: string;
  make: (out: string) => Promise<void>;
  /** the colour it must rank first */
  expect?: keyof typeof TEST_COLORS;
  /** or the error it must fail with */
  fails?: RegExp;
}

const ff = (...args: string[][]) => (out: string) => runFfmpeg([...args.flat(), out]);

const CASES: Case[] = [
  { name: 'h264.mp4', make: ff(src(color('red')), tone, x264, ['-c:a', 'aac']), expect: 'red' },
  { name: 'h264.mov', make: ff(src(color('green')), x264), expect: 'green' },
  { name: 'h264.mkv', make: ff(src(color('blue')), tone, x264, ['-c:a', 'libopus']), expect: 'blue' },
  { name: 'hevc.mp4', make: ff(src(color('yellow')), x265, ['-pix_fmt', 'yuv420p', '-tag:v', 'hvc1']), expect: 'yellow' },
  { name: 'hevc.mkv', make: ff(src(color('magenta')), x265, ['-pix_fmt', 'yuv420p']), expect: 'magenta' },
  { name: 'vp9.webm', make: ff(src(color('orange')), ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8']), expect: 'orange' },
  { name: 'vp8.webm', make: ff(src(color('purple')), ['-c:v', 'libvpx', '-deadline', 'realtime']), expect: 'purple' },
  { name: 'mpeg4.avi', make: ff(src(color('red')), ['-c:v', 'mpeg4', '-q:v', '2']), expect: 'red' },
  { name: 'mjpeg.avi', make: ff(src(color('green')), ['-c:v', 'mjpeg', '-q:v', '2']), expect: 'green' },
  { name: 'mpeg2.mpg', make: ff(src(color('blue')), tone, ['-c:v', 'mpeg2video', '-q:v', '2', '-c:a', 'mp2']), expect: 'blue' },
  // MPEG transport streams: the bundled ffprobe crashes on every one of them.
  { name: 'h264.ts', make: ff(src(color('yellow')), x264, ['-f', 'mpegts']), expect: 'yellow' },
  { name: 'mpeg2-audio.ts', make: ff(src(color('magenta')), tone, ['-c:v', 'mpeg2video', '-q:v', '2', '-c:a', 'mp2', '-f', 'mpegts']), expect: 'magenta' },
  { name: 'camcorder.mts', make: ff(src(color('orange')), tone, x264, ['-c:a', 'ac3', '-f', 'mpegts', '-mpegts_m2ts_mode', '1']), expect: 'orange' },
  { name: 'bluray.m2ts', make: ff(src(color('purple')), x264, ['-f', 'mpegts', '-mpegts_m2ts_mode', '1']), expect: 'purple' },
  { name: 'wmv2.wmv', make: ff(src(color('red')), ['-c:v', 'wmv2', '-q:v', '2']), expect: 'red' },
  { name: 'theora.ogv', make: ff(src(color('green')), ['-c:v', 'libtheora', '-q:v', '8']), expect: 'green' },
  { name: 'flv1.flv', make: ff(src(color('blue')), ['-c:v', 'flv', '-q:v', '2']), expect: 'blue' },
  { name: 'av1.mkv', make: ff(src(color('magenta')), ['-c:v', 'libaom-av1', '-strict', 'experimental', '-cpu-used', '8', '-b:v', '200k']), expect: 'magenta' },
  { name: 'mpeg1.mpg', make: ff(src(color('orange'), { r: 25 }), ['-c:v', 'mpeg1video', '-q:v', '2']), expect: 'orange' },
  { name: 'h263.3gp', make: ff(src(color('purple'), { s: '176x144', r: 15 }), ['-c:v', 'h263', '-q:v', '2']), expect: 'purple' },
  // DV camcorder tape transfers: PAL DV is interlaced, bottom field first, anamorphic.
  { name: 'camcorder.dv', make: ff(src(color('red'), { s: '720x576', r: 25, d: 1 }), ['-c:v', 'dvvideo', '-pix_fmt', 'yuv420p', '-aspect', '16:9']), expect: 'red' },
  { name: 'mpeg2.mxf', make: ff(src(color('green'), { s: '720x576', r: 25, d: 1 }), ['-c:v', 'mpeg2video', '-b:v', '5M']), expect: 'green' },
  { name: 'prores.mov', make: ff(src(color('yellow')), ['-c:v', 'prores_ks', '-profile:v', '0']), expect: 'yellow' },
  // Phone video turned a quarter; anamorphic PAL DV-like; variable frame rate.
  {
    name: 'rotated.mp4',
    // The track matrix written directly: ffmpeg 4.1's rotate tag turns the other way when copying.
    make: (out) => makeColorVideo(out, [{ color: color('magenta'), seconds: 2 }], { width: 96, height: 64, rotate: 90 }),
    expect: 'magenta',
  },
  { name: 'anamorphic.mkv', make: ff(src(color('orange'), { s: '72x64' }), ['-vf', 'setsar=16/9'], x264), expect: 'orange' },
  {
    name: 'vfr.mkv',
    make: ff(src(color('purple'), { r: 20 }), ['-vf', "select='not(mod(n\\,3))+eq(mod(n\\,7)\\,1)'", '-vsync', 'vfr'], x264),
    expect: 'purple',
  },
  // Interlaced: MPEG-2 (DVD, broadcast) and H.264 (AVCHD camcorders), both field orders.
  { name: 'interlaced-mpeg2.ts', make: ff(src(color('red'), { r: 25 }), ['-c:v', 'mpeg2video', '-q:v', '2', '-flags', '+ilme+ildct', '-top', '1', '-f', 'mpegts']), expect: 'red' },
  { name: 'interlaced-h264.mts', make: ff(src(color('green'), { r: 25 }), interlacedH264, ['-f', 'mpegts']), expect: 'green' },
  { name: 'interlaced-h264-bff.mp4', make: ff(src(color('blue'), { r: 25 }), ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-flags', '+ilme+ildct', '-x264opts', 'bff=1']), expect: 'blue' },
  // HDR: HLG (phones, broadcast) and PQ (HDR10), 10-bit HEVC in BT.2020.
  { name: 'hdr-pq.mkv', make: ff(hdrArgs(color('orange'), 'smpte2084')), expect: 'orange' },
  { name: 'hdr-hlg.mp4', make: ff(hdrArgs(color('yellow'), 'arib-std-b67'), ['-tag:v', 'hvc1']), expect: 'yellow' },
  // Several video streams: a big MJPEG cover as the first track, the real video second.
  {
    name: 'cover-first.mkv',
    make: async (out) => {
      await runFfmpeg([...src(color('green'), { s: '320x320', d: 0.1 }), '-frames:v', '1', '-c:v', 'mjpeg', '-f', 'image2', `${out}.jpg`]);
      await runFfmpeg([...src(color('red')), ...x264, `${out}.tmp.mp4`]);
      await runFfmpeg(['-i', `${out}.jpg`, '-i', `${out}.tmp.mp4`, '-map', '0', '-map', '1', '-c', 'copy', out]);
    },
    expect: 'red',
  },
  // Cover art as taggers write it: a Matroska attachment, an mp4 cover track.
  {
    name: 'attached-cover.mkv',
    make: async (out) => {
      await runFfmpeg([...src(color('green'), { s: '320x320', d: 0.1 }), '-frames:v', '1', '-c:v', 'mjpeg', '-f', 'image2', `${out}.jpg`]);
      await runFfmpeg([...src(color('purple')), ...x264, `${out}.tmp.mp4`]);
      await runFfmpeg(['-i', `${out}.tmp.mp4`, '-map', '0', '-c', 'copy', '-attach', `${out}.jpg`, '-metadata:s:t', 'mimetype=image/jpeg', out]);
    },
    expect: 'purple',
  },
  {
    name: 'attached-cover.mp4',
    make: async (out) => {
      await runFfmpeg([...src(color('green'), { s: '320x320', d: 0.1 }), '-frames:v', '1', '-c:v', 'mjpeg', '-f', 'image2', `${out}.jpg`]);
      await runFfmpeg([...src(color('blue')), ...x264, `${out}.tmp.mp4`]);
      await runFfmpeg(['-i', `${out}.tmp.mp4`, '-i', `${out}.jpg`, '-map', '0', '-map', '1', '-c', 'copy', '-disposition:v:1', 'attached_pic', out]);
    },
    expect: 'blue',
  },
  // Two real videos: a short larger one first, the long one second; the long one is the video.
  {
    name: 'two-angles.mkv',
    make: ff(src(color('black'), { s: '160x120', d: 0.5 }), src(color('white'), { d: 3 }), ['-map', '0', '-map', '1'], x264),
    expect: 'white',
  },
  { name: 'audio-only.mka', make: ff(tone, ['-c:a', 'libopus']), fails: /^no video stream \(streams: audio\)$/ },
];

describe('format matrix', () => {
  before(async () => {
    // Two at a time: generation is most of this test's time, on a shared 2-core machine.
    for (let i = 0; i < CASES.length; i += 2) await Promise.all(CASES.slice(i, i + 2).map((c) => c.make(file(c.name))));
  });

  for (const c of CASES) {
    test(c.name, async () => {
      if (c.fails) {
        await assert.rejects(encodeVideo(engine, file(c.name), undefined, () => {}), (err: Error) => {
          assert.ok(err instanceof MediaError, String(err));
          assert.match(err.message, c.fails!);
          return true;
        });
        return;
      }
      const ranked = await rankedColours(file(c.name));
      assert.equal(ranked[0], c.expect, `${c.name}: ranked ${ranked.slice(0, 3).join(', ')}`);
    });
  }

  test('probe reads what each special case is', async () => {
    const rotated = await probe(file('rotated.mp4'));
    assert.equal(rotated.rotation, 90);
    assert.deepEqual([rotated.width, rotated.height], [64, 96]);
    const anamorphic = await probe(file('anamorphic.mkv'));
    assert.deepEqual([anamorphic.width, anamorphic.height], [128, 64]);
    assert.equal((await probe(file('interlaced-mpeg2.ts'))).source?.interlaced, 'yes');
    assert.equal((await probe(file('interlaced-h264.mts'))).source?.interlaced, 'yes');
    assert.equal((await probe(file('h264.mkv'))).source?.interlaced, 'no');
    assert.equal((await probe(file('hdr-pq.mkv'))).source?.hdr?.transfer, 'smpte2084');
    assert.equal((await probe(file('hdr-hlg.mp4'))).source?.hdr?.transfer, 'arib-std-b67');
    assert.equal((await probe(file('hevc.mkv'))).source?.hdr, undefined);
    const cover = await probe(file('cover-first.mkv'));
    assert.deepEqual([cover.source?.stream, cover.codec, cover.width, cover.videoStreams], [1, 'h264', 96, 2]);
    // ffmpeg 4.1 marks neither as an attached picture; its one packet gives it away.
    for (const name of ['attached-cover.mp4', 'attached-cover.mkv']) assert.deepEqual((await probe(file(name))).source?.stream, 0, name);
    assert.equal((await probe(file('two-angles.mkv'))).source?.stream, 1);
    assert.match((await probe(file('h264.ts'))).formatName, /^mpegts$/);
    // A transport stream lists a stream once per program it belongs to: still two streams.
    await runFfmpeg([...src(color('red')), '-map', '0', '-map', '0', ...x264, '-program', 'title=A:st=0', '-program', 'title=B:st=0:st=1', '-f', 'mpegts', file('programs.ts')]);
    assert.equal((await probe(file('programs.ts'))).videoStreams, 2);
  });

  test('thumbnails show the same stream as the frames', async () => {
    const out = file('thumb-cover.jpg');
    await thumbnail(file('cover-first.mkv'), 1, out, { width: 32 });
    const raw = spawnSync(resolveTools().ffmpeg, ['-v', 'error', '-i', out, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 20 }).stdout;
    assert.ok(raw[0] > 200 && raw[1] < 60, `red, not the green cover: ${[...raw.subarray(0, 3)]}`);
  });
});

describe('HDR', () => {
  test('a PQ or HLG clip of a colour gives the vector of the SDR clip of that colour', async () => {
    const c: RGB = [192, 64, 32];
    await runFfmpeg([...src(c), ...x264, file('sdr-c.mp4')]);
    await runFfmpeg([...hdrArgs(c, 'smpte2084'), file('pq-c.mkv')]);
    await runFfmpeg([...hdrArgs(c, 'arib-std-b67'), file('hlg-c.mkv')]);
    const sdr = await videoVector(file('sdr-c.mp4'));
    for (const name of ['pq-c.mkv', 'hlg-c.mkv']) {
      const cos = cosine(sdr, await videoVector(file(name)));
      console.log(`# ${name}: cosine with the SDR clip ${cos.toFixed(4)}`);
      assert.ok(cos > 0.99, `${name}: cosine ${cos}`);
      const [f] = await collect(frames(file(name), { fps: 1, size: 16 }));
      const px = [...f.rgb.subarray(0, 3)];
      assert.ok(px.every((v, i) => Math.abs(v - c[i]) <= 16), `${name}: ${px} vs ${c}`);
    }
  });
});

describe('interlaced', () => {
  // A white bar moving 8 px per field: woven fields comb its edges, every other row shifted.
  const combing = (f: RawFrame) => {
    let sum = 0;
    for (let y = 1; y < f.height - 1; y++) {
      for (let x = 0; x < f.width; x++) {
        const at = (yy: number) => f.rgb[(yy * f.width + x) * 3];
        sum += Math.abs(2 * at(y) - at(y - 1) - at(y + 1));
      }
    }
    return sum / (f.width * (f.height - 2));
  };

  test('an interlaced source is deinterlaced: no combing', async () => {
    // 50 progressive frames/s woven into 25 interlaced frames/s, top field first.
    const moving = ['-filter_complex', "color=c=black:s=224x224:r=50:d=2[bg];color=c=white:s=24x224:r=50:d=2[bar];[bg][bar]overlay=x='mod(n*8\\,200)':y=0,tinterlace=mode=interleave_top,setfield=tff"];
    await runFfmpeg([...moving, '-c:v', 'mpeg2video', '-q:v', '2', '-flags', '+ilme+ildct', '-top', '1', '-f', 'mpegts', file('moving.ts')]);
    assert.equal((await probe(file('moving.ts'))).source?.interlaced, 'yes');
    const got = await collect(frames(file('moving.ts'), { fps: 2, size: 224 }));
    const comb = Math.max(...got.map(combing));
    console.log(`# combing (mean |2p(y) - p(y-1) - p(y+1)|): ${comb.toFixed(2)}`);
    assert.ok(comb < 3, `combing ${comb}`);
  });
});

// Hugging Face CLIPImageProcessor (shortest edge 224, PIL bicubic, centre crop), computed by Debian's
// python3-pil on the same decoded RGB picture.
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const pilMissing = (() => {
  const r = spawnSync(PYTHON, ['-c', 'import PIL'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${PYTHON} cannot import PIL (apt-get install python3-pil): reference pixels unavailable`;
})();

const REFERENCE_PY = `
import sys
from PIL import Image
w, h, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
im = Image.frombytes('RGB', (w, h), sys.stdin.buffer.read())
short, long_ = (w, h) if w <= h else (h, w)
nl = int(size * long_ / short)
nw, nh = (size, nl) if w <= h else (nl, size)
im = im.resize((nw, nh), Image.BICUBIC)
left, top = (nw - size) // 2, (nh - size) // 2
sys.stdout.buffer.write(im.crop((left, top, left + size, top + size)).tobytes())
`;

describe('frame geometry', () => {
  test('clipGeometry follows the reference rounding', () => {
    const g = (w: number, h: number, sar: [number, number] = [1, 1], rot = 0) => clipGeometry({ width: w, height: h, sar }, rot, 224);
    assert.deepEqual(g(1920, 1080), { width: 398, height: 224, x: 87, y: 0 });
    assert.deepEqual(g(1080, 1920), { width: 224, height: 398, x: 0, y: 87 });
    assert.deepEqual(g(1920, 1080, [1, 1], 90), { width: 224, height: 398, x: 0, y: 87 });
    assert.deepEqual(g(160, 120), { width: 298, height: 224, x: 37, y: 0 });
    assert.deepEqual(g(101, 57), { width: 396, height: 224, x: 86, y: 0 });
    // PAL 16:9 anamorphic: 720x576 at SAR 64:45 shows as 1024x576
    assert.deepEqual(g(720, 576, [64, 45]), { width: 398, height: 224, x: 87, y: 0 });
    assert.deepEqual(g(720, 480, [8, 9]), { width: 298, height: 224, x: 37, y: 0 });
    assert.deepEqual(g(300, 300), { width: 224, height: 224, x: 0, y: 0 });
  });

  for (const [w, h] of [[1920, 1080], [1080, 1920], [101, 57], [333, 500], [640, 480]] as const) {
    test(`${w}x${h} textured frame matches the reference pixels`, { skip: pilMissing }, async () => {
      const f = file(`tex-${w}x${h}.mkv`);
      // Lossless RGB, so the reference and vidsearch start from the same picture.
      // testsrc2 rounds odd sizes down: draw larger, crop to the size.
      await runFfmpeg(['-f', 'lavfi', '-i', `testsrc2=s=${w + 1}x${h + 1}:r=1:d=1`, '-vf', `format=rgb24,crop=${w}:${h}:0:0`, '-c:v', 'libx264rgb', '-qp', '0', '-preset', 'ultrafast', '-pix_fmt', 'rgb24', f]);
      const decoded = spawnSync(resolveTools().ffmpeg, ['-v', 'error', '-i', f, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 << 20 }).stdout;
      const ref = spawnSync(PYTHON, ['-c', REFERENCE_PY, String(w), String(h), '224'], { input: decoded, maxBuffer: 1 << 20 });
      assert.equal(ref.status, 0, String(ref.stderr));
      const [got] = await collect(frames(f, { fps: 1, size: 224 }));
      const diffs = Array.from(got.rgb, (v, i) => Math.abs(v - ref.stdout[i])).sort((a, b) => a - b);
      const mean = diffs.reduce((s, d) => s + d, 0) / diffs.length;
      const p99 = diffs[Math.floor(diffs.length * 0.99)];
      console.log(`# ${w}x${h}: mean |diff| ${mean.toFixed(3)}/255, p99 ${p99}, max ${diffs.at(-1)}`);
      // swscale's bicubic (its default B=0, C=0.6) against PIL's (a = -0.5): 0.05-0.32/255 on average here.
      assert.ok(mean < 0.5 && p99 <= 8, `mean ${mean}, p99 ${p99}`);
    });
  }
});

describe('SDR frames are the same bytes as before', () => {
  test('at the model size, frames are byte-identical to the previous chain', async () => {
    // No resize at 224x224, so the old chain (scale in YUV, crop, to RGB) and the new one (to RGB,
    // scale, crop) must agree exactly; and no tone-mapping or deinterlacing touches SDR frames.
    const f = file('tex-224.mp4');
    await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=224x224:r=10:d=2', ...x264, f]);
    const old = spawnSync(resolveTools().ffmpeg, [
      '-v', 'error', '-i', f, '-map', '0:V:0', '-vf',
      "fps=fps=1:round=up,scale=w='if(gte(iw*sar,ih),ceil(224*iw*sar/ih),224)':h='if(gte(iw*sar,ih),224,ceil(224*ih/(iw*sar)))':flags=bicubic,setsar=1,crop=224:224",
      '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-',
    ], { maxBuffer: 64 << 20 }).stdout;
    const got = Buffer.concat((await collect(frames(f, { fps: 1, size: 224, keyframes: 'never' }))).map((x) => x.rgb));
    assert.equal(got.length, old.length);
    assert.ok(got.equals(old), 'frames differ from the previous chain');
  });

  test('an SDR frame of any size goes through no colour or deinterlacing filter', async () => {
    const f = file('tex-sdr.mkv');
    await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=10:d=2', ...x264, '-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709', f]);
    const plain = spawnSync(resolveTools().ffmpeg, [
      '-v', 'error', '-i', f, '-map', '0:0', '-vf', 'fps=fps=1:round=up,format=rgb24,scale=w=398:h=224:flags=bicubic,setsar=1,crop=w=224:h=224:x=87:y=0:exact=1',
      '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-',
    ], { maxBuffer: 64 << 20 }).stdout;
    const got = Buffer.concat((await collect(frames(f, { fps: 1, size: 224 }))).map((x) => x.rgb));
    assert.ok(got.equals(plain));
  });
});

test('toolReport names the binaries, their versions and what they decode', async () => {
  const r = await toolReport();
  assert.equal(r.ffmpeg.path, resolveTools().ffmpeg);
  assert.match(r.ffmpeg.version, /\S/);
  assert.notEqual(r.ffmpeg.version, 'unknown');
  assert.ok(r.decoders.h264.includes('h264'), JSON.stringify(r.decoders));
  assert.ok(r.decoders.hevc.length > 0 && r.decoders.vp9.length > 0);
  assert.ok(r.filters.zscale && r.filters.tonemap && r.filters.bwdif);
  assert.equal(await toolReport(), r, 'cached');
});

test('a crashing ffmpeg is the tool\'s error, with its version, not the file\'s', async () => {
  // What the bundled ffprobe does on every MPEG-TS file: die of SIGSEGV. Here ffmpeg does it.
  const wrapper = file('crashing-ffmpeg.sh');
  fs.writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *-version*) exec "${resolveTools().ffmpeg}" "$@";; esac\nkill -SEGV $$\n`, { mode: 0o755 });
  await runFfmpeg([...src(color('red')), ...x264, file('for-crash.mp4')]);
  const script = `
    const { probe } = await import('./indexer/io/ffmpeg/media.ts');
    try { await probe(${JSON.stringify(file('for-crash.mp4'))}); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: { ...process.env, FFMPEG_PATH: wrapper },
    encoding: 'utf8',
  });
  const version = (await toolReport()).ffmpeg.version;
  assert.equal(
    r.stdout.trim(),
    `ToolError: ffmpeg ${version} crashed (signal SIGSEGV) on ${file('for-crash.mp4')}: a bug in ffmpeg, not a verdict on the file; nothing was recorded against it, so it is tried again next time (a newer ffmpeg, FFMPEG_PATH, may read it)`,
  );
});

test('an ffmpeg without a filter an HDR video needs says so, as its own shortfall', async () => {
  // A build without zimg, simulated: the wrapper renames the filter, so ffmpeg does not know it.
  const wrapper = file('no-zscale-ffmpeg.sh');
  fs.writeFileSync(wrapper, `#!/bin/bash\nargs=(); for a in "$@"; do args+=("\${a//zscale=/zscalx=}"); done\nexec "${resolveTools().ffmpeg}" "\${args[@]}"\n`, { mode: 0o755 });
  const script = `
    const { frames } = await import('./indexer/io/ffmpeg/media.ts');
    try { for await (const f of frames(${JSON.stringify(file('hdr-pq.mkv'))}, { fps: 1, size: 16 })); console.log('no error'); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: { ...process.env, FFMPEG_PATH: wrapper },
    encoding: 'utf8',
  });
  assert.match(r.stdout.trim(), /^ToolError: ffmpeg \S+ \(.*no-zscale-ffmpeg\.sh\) has no zscalx filter, needed for this video: set FFMPEG_PATH to a build that has it/);
});
