// The first run without a browser: the server's background model download (indexer/services/provision.ts)
// against a real local HTTP host, offline, and not at all; the setting that turns it off; and the
// CLI's first-run help and its progress line for one long file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { indexProgressLine } from '../indexer/cli/cli';
import { DEFAULT_MODEL, resolveConfig } from '../indexer/services/config';
import { loadModel } from '../indexer/io/onnx/model';
import { ModelProvision, modelProvision, type ModelState } from '../indexer/services/provision';
import { REGISTRY } from '../models/registry';
import { refusingEndpoint, serveModelFolder, type HfServer } from './hf-server';
import { REPO_ROOT, tempDir, testModel } from './helpers';

const spec = REGISTRY[DEFAULT_MODEL]!;

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const config = (env: Record<string, string> = {}) => resolveConfig({ home: tempDir('vidsearch-home-'), modelsDir: tempDir('vidsearch-models-'), threads: 1 }, env);

describe('the server downloads a missing default model', () => {
  const servers: HfServer[] = [];
  const savedEndpoint = process.env.VIDSEARCH_HF_ENDPOINT;
  after(async () => {
    for (const s of servers) await s.close();
    if (savedEndpoint === undefined) delete process.env.VIDSEARCH_HF_ENDPOINT;
    else process.env.VIDSEARCH_HF_ENDPOINT = savedEndpoint;
  });

  test('once, with bytes, percent and ETA over the whole model, then ready and loadable', async () => {
    const host = await serveModelFolder({ dir: await testModel(), repo: spec.repo, revision: spec.revision, holdAfter: 1_000_000 });
    servers.push(host);
    process.env.VIDSEARCH_HF_ENDPOINT = host.endpoint;
    const cfg = config();
    // Every request asks; one download runs.
    const p = modelProvision(cfg);
    for (let i = 0; i < 5; i++) assert.equal(modelProvision(cfg), p);

    let seen: ModelState | undefined;
    await until('progress with a total', () => {
      seen = p.state();
      return seen.phase === 'downloading' && (seen.download?.bytesDone ?? 0) > 0 && seen.download?.etaSeconds !== undefined;
    });
    const d = seen!.download!;
    // Sizes come from HEAD before the first byte: the total is the whole fp32 model.
    const fp32 = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/text_model.onnx', 'onnx/vision_model.onnx'];
    const total = (await Promise.all(fp32.map(async (f) => fs.statSync(path.join(await testModel(), f)).size))).reduce((a, b) => a + b, 0);
    assert.equal(d.bytesTotal, total);
    assert.ok(d.percent! > 0 && d.percent! < 100, `percent ${d.percent}`);
    assert.ok(d.bytesPerSecond! > 0);
    assert.equal(seen!.endpoint, host.endpoint);

    host.release();
    await until('ready', () => p.state().phase === 'ready');
    assert.deepEqual([...host.gets.values()], fp32.map(() => 1), `each file fetched once: ${JSON.stringify([...host.gets])}`);
    // Only the configured variant: no quantized or fp16 file was asked for.
    assert.deepEqual([...host.gets.keys()].sort(), [...fp32].sort());
    const model = await loadModel({ ...cfg, hashCacheFile: path.join(cfg.home, 'h.json') });
    assert.equal(model.dim, 8);
    await model.close();
  });

  test('offline: says so, with each file and the exact path to place it at', async () => {
    process.env.VIDSEARCH_HF_ENDPOINT = await refusingEndpoint();
    const cfg = config();
    const p = new ModelProvision(cfg).start();
    await until('offline', () => p.state().phase === 'offline');
    const s = p.state();
    p.stop();
    assert.match(s.message!, /no network was reachable/);
    assert.ok(s.retryAt! > Date.now());
    const dir = path.join(cfg.modelsDir, DEFAULT_MODEL);
    assert.equal(s.dir, dir);
    assert.deepEqual(
      s.files!.map((f) => f.target),
      spec.files.filter((f) => !f.variant || f.variant === 'fp32').map((f) => path.join(dir, f.path)),
    );
    for (const f of s.files!) assert.ok(f.url.startsWith(`${process.env.VIDSEARCH_HF_ENDPOINT}/${spec.repo}/resolve/${spec.revision}/`), f.url);
  });

  test('a model placed by hand while offline is picked up without a restart', async () => {
    process.env.VIDSEARCH_HF_ENDPOINT = await refusingEndpoint();
    const cfg = config();
    const p = new ModelProvision(cfg).start();
    await until('offline', () => p.state().phase === 'offline');
    fs.cpSync(await testModel(), path.join(cfg.modelsDir, DEFAULT_MODEL), { recursive: true });
    assert.equal(p.state().phase, 'ready');
    p.stop();
  });

  test('a connection lost mid-file: still downloading, tried again shortly, the files already here still counted', async () => {
    const host = await serveModelFolder({ dir: await testModel(), repo: spec.repo, revision: spec.revision, cut: { file: 'onnx/text_model.onnx', after: 200_000 } });
    servers.push(host);
    process.env.VIDSEARCH_HF_ENDPOINT = host.endpoint;
    const p = new ModelProvision(config()).start();
    await until('the lost connection', () => p.state().retryAt !== undefined);
    const lost = p.state();
    assert.equal(lost.phase, 'downloading');
    assert.match(lost.message!, /connection .* was lost while downloading onnx\/text_model\.onnx/);
    // What the cut file had received when the socket dropped: this host offers no ranges, so the
    // next try starts that file again; how much arrived before the drop varies with timing.
    const partial = Number(/the (\d+) bytes received are kept/.exec(lost.message!)?.[1]);
    assert.ok(partial > 0, lost.message);
    const finishedBefore = lost.download!.bytesDone - partial;
    await until('the next try', () => p.state().retryAt === undefined && (p.state().download?.bytesDone ?? 0) > 0);
    // The tokenizer and configs fetched before the cut are not counted again from zero.
    assert.ok(p.state().download!.bytesDone >= finishedBefore, `${p.state().download!.bytesDone} after ${finishedBefore} in finished files`);
    await until('ready', () => p.state().phase === 'ready');
    assert.equal(host.gets.get('onnx/text_model.onnx'), 2);
    assert.equal(host.gets.get('tokenizer.json'), 1);
    p.stop();
  });

  test('a download the host refuses (HTTP 404) is reported as failed, with the host\'s answer', async () => {
    const host = await serveModelFolder({ dir: tempDir('vidsearch-empty-'), repo: spec.repo, revision: spec.revision });
    servers.push(host);
    process.env.VIDSEARCH_HF_ENDPOINT = host.endpoint;
    const p = new ModelProvision(config()).start();
    await until('failed', () => p.state().phase === 'failed');
    assert.match(p.state().message!, /HTTP 404/);
    assert.equal(p.state().retryAt, undefined, 'not retried by itself: the same request would fail the same way');
    p.stop();
  });

  test('never for a model given by path, nor with VIDSEARCH_AUTO_PULL=0', async () => {
    const host = await serveModelFolder({ dir: await testModel(), repo: spec.repo, revision: spec.revision });
    servers.push(host);
    process.env.VIDSEARCH_HF_ENDPOINT = host.endpoint;
    const byPath = resolveConfig({ home: tempDir(), modelsDir: tempDir(), model: path.join(tempDir(), 'my-model') }, {});
    const off = config({ VIDSEARCH_AUTO_PULL: '0' });
    for (const cfg of [byPath, off]) {
      const s = new ModelProvision(cfg).start().state();
      assert.equal(s.phase, 'missing');
      assert.equal(s.autoPull, false);
      assert.match(s.message!, /model not found at/);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(host.gets.size, 0);
  });
});

describe('first-run settings and CLI', () => {
  test('VIDSEARCH_AUTO_PULL is on by default and validated', () => {
    assert.equal(resolveConfig({}, {}).autoPull, true);
    assert.equal(resolveConfig({}, { VIDSEARCH_AUTO_PULL: 'off' }).autoPull, false);
    assert.throws(() => resolveConfig({}, { VIDSEARCH_AUTO_PULL: 'maybe' }), { name: 'UsageError', message: /VIDSEARCH_AUTO_PULL/ });
  });

  test('vidsearch --help names the web app, its address and the data directory in use', () => {
    const home = tempDir('vidsearch-home-');
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), '--help'], { env: { ...process.env, VIDSEARCH_HOME: home }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /npm start/);
    assert.match(r.stdout, /http:\/\/127\.0\.0\.1:3000/);
    assert.match(r.stdout, /PORT and HOST/);
    assert.match(r.stdout, /npm run demo/);
    assert.ok(r.stdout.includes(`Data directory in use: ${home}`), r.stdout);
  });

  test('one long file: the bar and the ETA follow its frames', () => {
    // a 30-minute file at 1 fps, 100 s in, 300 frames encoded
    const line = indexProgressLine({ files: 1, finished: 0, framesDone: 0, current: { frames: 300, expected: 1800, name: 'long.mp4' }, elapsedSeconds: 100 });
    assert.match(line, /0\/1 files {2}frame 300\/1800/);
    // 1/6 done in 100 s: 500 s to go
    assert.match(line, /ETA 8:20/);
    assert.ok(line.startsWith('███'), line);
  });
});
