// ffmpeg and ffprobe themselves: finding the binaries (FFMPEG_PATH, FFPROBE_PATH, the bundled
// ones) and what they are and decode (toolReport). Running them safely is run.ts's, re-exported
// here: the other files of io/ffmpeg run every tool through these two.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ToolError } from '../../core/errors';
import { PROJECT_ROOT } from '../files/paths';
// The one module that reads settings from the environment (FFMPEG_PATH, FFPROBE_PATH).
import { toolPaths } from '../../services/config';
import { run, toolVersion } from './run';

export * from './run';

export interface Tools {
  ffmpeg: string;
  ffprobe: string;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 30_000;

let tools: Tools | undefined;

/** The ffmpeg and ffprobe binaries: FFMPEG_PATH/FFPROBE_PATH, then ffmpeg-static, then the installer packages. */
export function resolveTools(): Tools {
  if (tools) return tools;
  // Resolve packages from the project root, not from this file: under Next.js this module is
  // bundled somewhere else and a require relative to it would not find node_modules.
  const require = createRequire(path.join(PROJECT_ROOT, 'package.json'));
  const chosen = toolPaths();
  tools = {
    ffmpeg: findTool('ffmpeg', 'FFMPEG_PATH', chosen.ffmpegPath, [
      () => require('ffmpeg-static') as string | null,
      () => (require('@ffmpeg-installer/ffmpeg') as { path: string }).path,
    ]),
    ffprobe: findTool('ffprobe', 'FFPROBE_PATH', chosen.ffprobePath, [() => (require('@ffprobe-installer/ffprobe') as { path: string }).path]),
  };
  return tools;
}

function findTool(name: string, envVar: string, fromEnv: string | undefined, candidates: Array<() => string | null>): string {
  const hint = `Set ${envVar} to an ${name} binary, or reinstall the dependencies (npm install).`;
  if (fromEnv) {
    // An explicit choice that does not work is an error, not a reason to silently use another binary.
    if (isExecutable(fromEnv)) return fromEnv;
    throw new ToolError(`${name} not found: ${envVar}=${fromEnv} is not an executable file. ${hint}`, { kind: 'missing', tool: name, path: fromEnv });
  }
  const tried: string[] = [];
  for (const candidate of candidates) {
    let file: string | null = null;
    try {
      file = candidate();
    } catch {
      continue; // package not installed (ffmpeg-static usually is not) or unsupported platform
    }
    if (file && isExecutable(file)) return file;
    if (file) tried.push(file);
  }
  throw new ToolError(`${name} not found${tried.length ? ` (not executable: ${tried.join(', ')})` : ''}. ${hint}`, { kind: 'missing', tool: name, path: tried[0] });
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Which binaries are in use, what they are, and what they decode: for `vidsearch stats` and `doctor`. */
export interface ToolReport {
  ffmpeg: { path: string; version: string };
  ffprobe: { path: string; version: string };
  /** for each codec a library is likely to hold, ffmpeg's decoders of it ([] when none) */
  decoders: Record<'h264' | 'hevc' | 'vp9' | 'av1', string[]>;
  /** the filters vidsearch uses for HDR (zscale, tonemap) and interlaced (bwdif) sources */
  filters: Record<'zscale' | 'tonemap' | 'bwdif', boolean>;
}

const REPORTED_CODECS = ['h264', 'hevc', 'vp9', 'av1'] as const;
let report: Promise<ToolReport> | undefined;
/** The tools in use, their versions and what they decode; asked once per process (cached). */
export function toolReport(): Promise<ToolReport> {
  report ??= (async () => {
    const { ffmpeg, ffprobe } = resolveTools();
    const [ffmpegVersion, ffprobeVersion, decoders, filters] = await Promise.all([
      toolVersion(ffmpeg) ?? 'unknown',
      toolVersion(ffprobe) ?? 'unknown',
      run(ffmpeg, ['-hide_banner', '-decoders'], ffmpeg, { timeoutMs: 10_000, tool: 'ffmpeg' }).then((r) => r.stdout),
      run(ffmpeg, ['-hide_banner', '-filters'], ffmpeg, { timeoutMs: 10_000, tool: 'ffmpeg' }).then((r) => r.stdout),
    ]);
    const byCodec = Object.fromEntries(REPORTED_CODECS.map((c) => [c, [] as string[]])) as ToolReport['decoders'];
    // " VFS..D h264   H.264 / AVC ..." or " V....D libdav1d   dav1d AV1 decoder (codec av1)"
    for (const line of decoders.split('\n')) {
      const m = /^ V\S{5} (\S+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const codec = /\(codec (\w+)\)\s*$/.exec(m[2])?.[1] ?? m[1];
      if ((REPORTED_CODECS as readonly string[]).includes(codec)) byCodec[codec as keyof ToolReport['decoders']].push(m[1]);
    }
    const hasFilter = (name: string) => new RegExp(`^ \\S+ ${name} `, 'm').test(filters);
    return {
      ffmpeg: { path: ffmpeg, version: ffmpegVersion },
      ffprobe: { path: ffprobe, version: ffprobeVersion },
      decoders: byCodec,
      filters: { zscale: hasFilter('zscale'), tonemap: hasFilter('tonemap'), bwdif: hasFilter('bwdif') },
    };
  })();
  report.catch(() => (report = undefined)); // a failed look is not cached
  return report;
}

/** The report as aligned lines, the same in `vidsearch stats` and `vidsearch doctor`. */
export function toolReportLines(r: ToolReport): string[] {
  const decodes = REPORTED_CODECS.map((c) => `${c} ${r.decoders[c].length ? `yes (${r.decoders[c].join(', ')})` : 'NO'}`).join(', ');
  const missing = Object.entries(r.filters).filter(([, ok]) => !ok).map(([name]) => name);
  return [
    `ffmpeg          ${r.ffmpeg.version} (${r.ffmpeg.path})`,
    `ffprobe         ${r.ffprobe.version} (${r.ffprobe.path})`,
    `decodes         ${decodes}`,
    ...(missing.length ? [`missing filters ${missing.join(', ')} (HDR tone-mapping needs zscale and tonemap; deinterlacing bwdif)`] : []),
  ];
}

const FILTER_NEEDS: Record<string, string> = {
  zscale: 'tone-mapping HDR video (zscale comes with --enable-libzimg)',
  tonemap: 'tone-mapping HDR video',
  bwdif: 'deinterlacing',
};

/**
 * An ffmpeg without a filter this video needs (a build given by FFMPEG_PATH): the tool's shortfall,
 * said as such. ffmpeg says so only in its stderr: that text is classified here, once, into a
 * ToolError of kind 'tool-lacks-filter'.
 */
export async function missingFilter(lines: string[], file: string): Promise<ToolError | undefined> {
  const name = lines.map((l) => /No such filter: '([\w-]+)'/.exec(l)?.[1]).find(Boolean);
  if (!name) return undefined;
  const bin = resolveTools().ffmpeg;
  const version = toolVersion(bin) ?? 'unknown';
  return new ToolError(
    `ffmpeg ${version} (${bin}) has no ${name} filter, needed for ${FILTER_NEEDS[name] ?? 'this video'}: set FFMPEG_PATH to a build that has it (the bundled one does)`,
    { kind: 'lacks-filter', tool: 'ffmpeg', path: bin, file, version, filter: name },
  );
}
