// `npm run demo`: the whole product without a network or a real model. Builds the test model,
// generates a few colour videos (and one corrupt file, so the library shows a failure), indexes
// them into their own data directory, then serves the app on it. Re-running reuses what exists.
import fs from 'node:fs';
import path from 'node:path';
import { demoHome, resolveConfig, openEngine, indexTargets } from '../indexer/index';
import { makeColorVideo, type ColorPart, TEST_COLORS, buildTestModel } from '../indexer/testkit';
import { serve } from './serve';

const home = demoHome();
const modelDir = path.join(home, 'model');
const videosDir = path.join(home, 'videos');

const color = (name: string, seconds: number): ColorPart => ({ color: TEST_COLORS[name], seconds });
const SAMPLES: Record<string, ColorPart[]> = {
  'red.mp4': [color('red', 8)],
  'green.mp4': [color('green', 8)],
  'blue.mp4': [color('blue', 8)],
  'yellow.mp4': [color('yellow', 8)],
  // Ten seconds each, the default segment length: "red" finds the middle third.
  'blue-red-green.mp4': [color('blue', 10), color('red', 10), color('green', 10)],
};

const log = (s: string) => process.stderr.write(`demo: ${s}\n`);

/** Makes `target` by writing to a temporary name first, so an interrupted run leaves no half file. */
async function once(target: string, make: (tmp: string) => Promise<void>): Promise<void> {
  if (fs.existsSync(target)) return;
  const tmp = `${target}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await make(tmp);
  fs.renameSync(tmp, target);
}

fs.mkdirSync(videosDir, { recursive: true });
await once(modelDir, (tmp) => buildTestModel(tmp));
for (const [name, parts] of Object.entries(SAMPLES)) {
  // ".partial" files are skipped by the indexer; the real extension goes on at the rename.
  await once(path.join(videosDir, name), (tmp) => makeColorVideo(tmp, parts, { width: 320, height: 180, fps: 25 }));
}
await once(path.join(videosDir, 'corrupt.mp4'), (tmp) => fs.promises.writeFile(tmp, 'not a video, only text with a video name\n'));

// The demo has its own database even when DATABASE_URL points elsewhere.
const env = { ...process.env, VIDSEARCH_HOME: home, VIDSEARCH_MODEL: modelDir, DATABASE_URL: `file:${path.join(home, 'vidsearch.db')}`, VIDSEARCH_VARIANT: 'fp32' };
const engine = await openEngine(resolveConfig({}, env), { writer: true });
try {
  const report = await indexTargets(engine, [videosDir]);
  const [indexed, failed] = await Promise.all([engine.store.countVideos('indexed'), engine.store.countVideos('failed')]);
  log(`${home}: ${report.indexed.length} newly indexed; ${indexed} videos searchable, ${failed} failed (corrupt.mp4, on purpose)`);
} finally {
  await engine.close();
}
log('try searching for "red", "a green field" or "blue sky"');
process.exitCode = await serve(env);
