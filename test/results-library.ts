// The library the results tests search (test/search-relevance.test.ts, test/e2e-results.test.ts):
// more than a page of videos, most of them unrelated to every colour word (dark "night" clips, each
// a little different), and three that a colour query must find: red, green and blue, plus the
// blue→red→green clip. With the test model the answers are known: "red" finds red.mp4 first and
// stands far above the dark clips; a word that names no colour scores exactly 0 everywhere.
import path from 'node:path';
import type { Config } from '../indexer/services/config';
import { openEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { tempDir, testConfig } from './helpers';

export const NIGHT_CLIPS = 22;
export const LIBRARY_SIZE = 4 + NIGHT_CLIPS;
export const NONSENSE = 'zzzz nonsense';

export interface ResultsLibrary {
  cfg: Config;
  dir: string;
  /** file name → video id */
  ids: Map<string, number>;
}

export async function makeResultsLibrary(configOverrides: Parameters<typeof testConfig>[0] = {}): Promise<ResultsLibrary> {
  const dir = tempDir('vidsearch-lib-');
  const rgb = (name: string) => TEST_COLORS[name] as RGB;
  for (const name of ['red', 'green', 'blue']) await makeColorVideo(path.join(dir, `${name}.mp4`), [{ color: rgb(name), seconds: 2 }], { width: 64, height: 48 });
  await makeColorVideo(
    path.join(dir, 'blue-red-green.mp4'),
    [
      { color: rgb('blue'), seconds: 4 },
      { color: rgb('red'), seconds: 4 },
      { color: rgb('green'), seconds: 4 },
    ],
    { width: 64, height: 48 },
  );
  for (let i = 0; i < NIGHT_CLIPS; i++) {
    const shade: RGB = [(i * 13) % 56, (i * 29) % 56, (i * 41) % 56];
    await makeColorVideo(path.join(dir, `night-${String(i + 1).padStart(2, '0')}.mp4`), [{ color: shade, seconds: 1 }], { width: 64, height: 48 });
  }
  const cfg = await testConfig(configOverrides);
  const engine = await openEngine(cfg, { writer: true });
  const ids = new Map<string, number>();
  try {
    const report = await indexTargets(engine, [dir]);
    if (report.indexed.length !== LIBRARY_SIZE) throw new Error(`indexed ${report.indexed.length} of ${LIBRARY_SIZE}: ${JSON.stringify(report.failed)}`);
    for (const v of await engine.store.videos()) ids.set(path.basename(v.path), v.id);
  } finally {
    await engine.close();
  }
  return { cfg, dir, ids };
}
