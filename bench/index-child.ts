// Indexes one video in a process of its own so that its peak memory can be read cleanly, and
// prints one JSON line: wall time, frames, the time per stage, ffmpeg's CPU, memory over time.
// Usage: node --import tsx bench/index-child.ts '<json IndexChildOptions>'
import fs from 'node:fs';
import { resolveConfig } from '../indexer/services/config';
import { openEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';

export interface IndexChildOptions {
  video: string;
  home: string;
  model: string;
  variant: 'fp32' | 'quantized';
  threads: number;
  batchSize: number;
  fps?: number;
  /** action labels scored per video ("none": off); their vectors are cached in cacheDir */
  labelSet: string;
  cacheDir: string;
}

export interface IndexChildResult {
  frames: number;
  segments: number;
  duration: number;
  loadS: number;
  wallS: number;
  stages: { inferenceS: number; preprocessS: number; storageS: number; textS: number; otherS: number };
  /** CPU seconds of ffprobe + ffmpeg (reaped children), i.e. decoding, overlapped with the rest */
  decodeCpuS: number;
  /** CPU seconds of this process (inference threads, preprocessing, storage) */
  selfCpuS: number;
  maxRssMb: number;
  /** [frames done, RSS MB] while indexing */
  rssSeries: Array<[number, number]>;
}

function childCpu(): number {
  const rest = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = rest.slice(rest.lastIndexOf(')') + 2).split(' ');
  return (Number(f[16 - 3]) + Number(f[17 - 3])) / 100;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2]) as IndexChildOptions;
  const cfg = resolveConfig(
    { home: opts.home, model: opts.model, variant: opts.variant, threads: opts.threads, batchSize: opts.batchSize, fps: opts.fps ?? 1, labelSet: opts.labelSet, cacheDir: opts.cacheDir },
    {},
  );
  const loadStart = performance.now();
  const engine = await openEngine(cfg, { writer: true });
  const loadS = (performance.now() - loadStart) / 1000;

  let storageMs = 0;
  const store = engine.store;
  for (const name of ['saveIndexed', 'flushIndex'] as const) {
    const original = store[name].bind(store) as (...a: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      const t = performance.now();
      try {
        return await original(...args);
      } finally {
        storageMs += performance.now() - t;
      }
    };
  }
  const rssSeries: Array<[number, number]> = [];
  let lastSample = 0;
  const cpu0 = process.cpuUsage();
  const child0 = childCpu();
  const t0 = performance.now();
  const report = await indexTargets(engine, [opts.video], {
    onEvent: (e) => {
      if (e.type !== 'frames') return;
      const now = performance.now();
      if (now - lastSample < 1000) return;
      lastSample = now;
      rssSeries.push([e.frames, Math.round(process.memoryUsage().rss / 1048576)]);
    },
  });
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (report.failed.length || report.indexed.length !== 1) throw new Error(`indexing failed: ${JSON.stringify(report)}`);
  const t = engine.model.timings!;
  const inferenceS = t.inferenceMs / 1000;
  const preprocessS = t.preprocessMs / 1000;
  const storageS = storageMs / 1000;
  const textS = t.textMs / 1000; // action-label prompts, when their vectors were not cached
  const video = await store.video(report.indexed[0].videoId);
  const result: IndexChildResult = {
    frames: report.indexed[0].frames,
    segments: report.indexed[0].segments,
    duration: video?.duration ?? 0,
    loadS,
    wallS,
    stages: { inferenceS, preprocessS, storageS, textS, otherS: Math.max(0, wallS - inferenceS - preprocessS - storageS - textS) },
    decodeCpuS: childCpu() - child0,
    selfCpuS: (cpu.user + cpu.system) / 1e6,
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    rssSeries,
  };
  await engine.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(`index-child: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
