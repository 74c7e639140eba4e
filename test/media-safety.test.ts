// What ffmpeg may open: a file vidsearch hands it is read as a plain media container, never as a
// playlist, concat list or image sequence that makes ffmpeg read other files. Checked where a
// stranger's file comes in (an upload to POST /api/actions), where a library's files come in
// (`vidsearch index`), and at the media boundary itself; with the real ffmpeg and ffprobe, and a
// real video that such a file names, so that following the reference would visibly succeed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../indexer/services/config';
import { openEngine } from '../indexer/services/engine';
import { frames, probe, thumbnail } from '../indexer/io/ffmpeg/media';
import { runFfmpeg } from '../indexer/testkit/samples';
import { indexTargets } from '../indexer/services/pipeline';
import { TEST_COLORS } from '../indexer/testkit/build';
import { POST as tag } from '../app/api/actions/route';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testConfig, resetAppEngine } from './helpers';

const RED = TEST_COLORS.red as RGB;
const NOT_PLAIN = /^not a video file: not a plain video container/;

/** An HLS playlist whose one segment is `target`, as ffmpeg's hls demuxer reads it. */
const hls = (target: string) => `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\n${target}\n#EXT-X-ENDLIST\n`;
const ffconcat = (target: string) => `ffconcat version 1.0\nfile '${target}'\n`;

let cfg: Config;
/** An indexed video; the files below name it. */
let red: string;


before(async () => {
  const lib = tempDir('vidsearch-lib-');
  red = path.join(lib, 'red.mp4');
  await makeColorVideo(red, [{ color: RED, seconds: 2 }]);
  cfg = await testConfig({ segmentSeconds: 2 });
  const engine = await openEngine(cfg, { writer: true });
  try {
    assert.equal((await indexTargets(engine, [lib])).indexed.length, 1);
  } finally {
    await engine.close();
  }
  Object.assign(process.env, {
    VIDSEARCH_HOME: cfg.home,
    VIDSEARCH_MODEL: cfg.model,
    VIDSEARCH_THREADS: '1',
    VIDSEARCH_CACHE_DIR: cfg.cacheDir,
    VIDSEARCH_UPLOAD_DIR: tempDir('vidsearch-uploads-'),
  });
});

after(resetAppEngine);

async function upload(name: string, text: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const fd = new FormData();
  fd.append('labels', 'red,green');
  fd.append('file', new Blob([text]), name);
  const req = new Request('http://localhost/api/actions', { method: 'POST', body: fd });
  const res = await tag(req, { params: Promise.resolve({}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('an uploaded playlist or list of files (POST /api/actions)', () => {
  test('an HLS playlist naming an indexed video → 415 "not a video file", not that video\'s tags', async () => {
    const res = await upload('x.m3u8', hls(red));
    assert.equal(res.status, 415, JSON.stringify(res.body));
    assert.equal(res.body.labels, undefined);
    assert.match(String(res.body.error), /^x\.m3u8: not a video file/);
  });

  test('whatever a playlist names (a video, /etc/passwd, nothing): the same status and the same words', async () => {
    const answers = [];
    for (const target of [red, '/etc/passwd', path.join(tempDir(), 'nothing-here.mp4'), `file:${red}`]) answers.push(await upload('x.m3u8', hls(target)));
    assert.equal(answers[0].status, 415);
    assert.match(String(answers[0].body.error), NOT_PLAIN_UPLOAD('x.m3u8'));
    for (const a of answers) assert.deepEqual(a, answers[0]);
  });

  test('an ffconcat list → 415 "not a video file", and nothing it names is echoed back', async () => {
    for (const target of [red, '/etc/passwd']) {
      const res = await upload('list.ffconcat', ffconcat(target));
      assert.equal(res.status, 415, JSON.stringify(res.body));
      assert.match(String(res.body.error), NOT_PLAIN_UPLOAD('list.ffconcat'));
      assert.ok(!String(res.body.error).includes(target), String(res.body.error));
    }
    // The same list under a video's name: the content decides, not the name.
    const disguised = await upload('clip.mp4', ffconcat(red));
    assert.equal(disguised.status, 415);
    assert.match(String(disguised.body.error), NOT_PLAIN_UPLOAD('clip.mp4'));
  });
});

function NOT_PLAIN_UPLOAD(name: string): RegExp {
  return new RegExp(`^${name.replace(/[.]/g, '\\.')}: ${NOT_PLAIN.source.slice(1)}`);
}

describe('a library with playlists and lists of files (vidsearch index)', () => {
  test('each is recorded as failed, "not a video file", never indexed with the video it names', async () => {
    // The video lies outside the library. The library reaches a copy of it through a link, as a
    // concat list that ffmpeg deems safe (a plain relative name) can; the copy's name is not a
    // video's, so the scan itself does not pick it up.
    const outside = tempDir('vidsearch-outside-');
    const secret = path.join(outside, 'secret.mp4');
    await makeColorVideo(secret, [{ color: RED, seconds: 2 }]);
    const linked = tempDir('vidsearch-linked-');
    fs.copyFileSync(secret, path.join(linked, 'secret.dat'));
    const lib = tempDir('vidsearch-lib-');
    fs.symlinkSync(linked, path.join(lib, 'elsewhere'));
    fs.writeFileSync(path.join(lib, 'list.mkv'), ffconcat('elsewhere/secret.dat'));
    // Named one by one, as `vidsearch index` allows for any file.
    const playlist = path.join(outside, 'x.m3u8');
    fs.writeFileSync(playlist, hls(secret));
    const list = path.join(outside, 'y.ffconcat');
    fs.writeFileSync(list, ffconcat('secret.mp4'));

    const { PATH, HOME } = process.env;
    const env = { PATH, HOME, VIDSEARCH_HOME: tempDir('vidsearch-home-'), VIDSEARCH_MODEL: cfg.model, VIDSEARCH_CACHE_DIR: cfg.cacheDir, VIDSEARCH_THREADS: '1' };
    const cli = (args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), ...args], { env: env as Record<string, string | undefined> as NodeJS.ProcessEnv, encoding: 'utf8' });
    const r = cli(['index', lib, playlist, list, '--json']);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as { indexed: Array<{ path: string }>; failed: Array<{ path: string; error: string }> };
    assert.deepEqual(report.indexed.map((i) => i.path), []);
    const failed = Object.fromEntries(report.failed.map((f) => [path.basename(f.path), f.error]));
    assert.deepEqual(Object.keys(failed).sort(), ['list.mkv', 'x.m3u8', 'y.ffconcat']);
    for (const error of Object.values(failed)) assert.match(error, NOT_PLAIN);

    const stats = JSON.parse(cli(['stats', '--json']).stdout) as { videos: { indexed: number; failed: number }; segments: number };
    assert.deepEqual([stats.videos.indexed, stats.videos.failed, stats.segments], [0, 3, 0]);
  });
});

describe('the media boundary', () => {
  test('a file named like an image sequence is read as itself: frames and thumbnail refuse it', async () => {
    const dir = tempDir();
    // ffmpeg's image2 demuxer reads "img%03d.png" as img000.png, img001.png, ...
    for (const n of ['001', '002']) await runFfmpeg(['-f', 'lavfi', '-i', 'color=c=0xFF0000:s=64x48', '-frames:v', '1', '-f', 'image2', '-c:v', 'png', path.join(dir, `img${n}.png`)]);
    const pattern = path.join(dir, 'img%03d.png');
    fs.writeFileSync(pattern, 'not a picture');
    const got: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const f of frames(pattern, { fps: 1, size: 16, keyframes: 'never' })) got.push(f.index);
      })(),
      (err: Error) => err.name === 'MediaError' && NOT_PLAIN.test(err.message),
    );
    assert.deepEqual(got, [], 'no frame of the sequence came out');
    await assert.rejects(thumbnail(pattern, 0, path.join(dir, 'thumb.jpg')), (err: Error) => err.name === 'MediaError' && NOT_PLAIN.test(err.message));
    assert.ok(!fs.existsSync(path.join(dir, 'thumb.jpg')));
    await assert.rejects(probe(pattern), (err: Error) => err.name === 'MediaError' && /^not a video/.test(err.message));
  });

  test('every supported container and raw stream still opens', async () => {
    const dir = tempDir();
    const src = ['-f', 'lavfi', '-i', 'color=c=0xFF0000:s=64x48:d=1:r=25'];
    const x264 = ['-c:v', 'libx264', '-pix_fmt', 'yuv420p'];
    const cases: Array<[string, string[], RegExp]> = [
      ['a.mp4', x264, /mp4/],
      ['a.mov', x264, /mov/],
      ['a.3gp', [...x264, '-s', '176x144'], /3gp/],
      ['a.mkv', x264, /matroska/],
      ['a.webm', ['-c:v', 'libvpx-vp9'], /webm/],
      ['a.avi', ['-c:v', 'mpeg4'], /^avi$/],
      ['a.flv', ['-c:v', 'flv'], /^flv$/],
      ['a.mpg', ['-c:v', 'mpeg2video'], /^mpeg$/],
      ['a.ts', ['-c:v', 'mpeg2video'], /^mpegts$/],
      ['a.m2ts', [...x264, '-mpegts_m2ts_mode', '1', '-f', 'mpegts'], /^mpegts$/],
      ['a.wmv', ['-c:v', 'wmv2'], /^asf$/],
      ['a.ogv', ['-c:v', 'libtheora'], /^ogg$/],
      ['a.mxf', ['-c:v', 'mpeg2video', '-s', '720x576', '-b:v', '5M'], /^mxf$/],
      ['a.dv', ['-c:v', 'dvvideo', '-s', '720x576', '-pix_fmt', 'yuv420p'], /^dv$/],
      ['a.ivf', ['-c:v', 'libvpx'], /^ivf$/],
      ['a.y4m', ['-pix_fmt', 'yuv420p'], /^yuv4mpegpipe$/],
      ['a.h264', x264, /^h264$/],
      ['a.hevc', ['-c:v', 'libx265', '-pix_fmt', 'yuv420p', '-x265-params', 'log-level=none'], /^hevc$/],
      ['a.m2v', ['-c:v', 'mpeg2video'], /^mpegvideo$/],
      ['a.m4v', ['-c:v', 'mpeg4', '-f', 'm4v'], /^m4v$/],
    ];
    for (const [name, args, format] of cases) {
      const file = path.join(dir, name);
      await runFfmpeg([...src, ...args, file]);
      // probe reads with ffmpeg itself: MPEG-TS too, on which the bundled ffprobe crashes.
      assert.match((await probe(file)).formatName, format, name);
      const got = [];
      for await (const f of frames(file, { fps: 1, size: 16 })) got.push(f);
      assert.equal(got.length, 1, name);
      assert.ok(got[0].rgb[0] > 200 && got[0].rgb[1] < 60, `${name}: red, got ${got[0].rgb.slice(0, 3)}`);
    }
  });
});
