// The indexing progress line of `vidsearch index` (a terminal only).
import path from 'node:path';
import type { IndexEvent } from '../services/pipeline';
import { clock } from './command';

export interface IndexProgress {
  files: number;
  finished: number;
  /** frames encoded in the finished files */
  framesDone: number;
  /** the file in progress: frames encoded so far, and how many its duration × fps makes */
  current: { frames: number; expected: number; name: string };
  elapsedSeconds: number;
}

/**
 * The progress line. The bar and the ETA count the file in progress by its frames, so that one
 * long file moves the bar and has an ETA instead of sitting at 0/1 until it is done.
 */
export function indexProgressLine(p: IndexProgress): string {
  const { files, finished, current, elapsedSeconds: elapsed } = p;
  const fps = (p.framesDone + current.frames) / Math.max(elapsed, 1e-3);
  const within = current.expected > 0 ? Math.min(1, current.frames / current.expected) : 0;
  const fraction = files ? Math.min(1, (finished + within) / files) : 0;
  // Files still to come are taken to cost what the work so far cost per file.
  const eta = fraction > 0 && elapsed > 0 ? (elapsed * (1 - fraction)) / fraction : NaN;
  const width = 20;
  const filled = Math.round(fraction * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const frames = current.expected > 0 ? `  frame ${Math.min(current.frames, current.expected)}/${current.expected}` : '';
  return `${bar} ${finished}/${files} files${frames}  ${fps.toFixed(1)} frames/s  ETA ${Number.isFinite(eta) ? clock(eta) : '--'}  ${current.name}`;
}

/** A one-line progress display on a terminal; nothing when stderr is not a terminal. */
export function progressReporter(sampleFps: number): (e: IndexEvent) => void {
  const tty = process.stderr.isTTY;
  const started = Date.now();
  let framesDone = 0;
  let current = { frames: 0, expected: 0, name: '' };
  let files = 0;
  let finished = 0;
  let last = 0;
  const draw = (force = false) => {
    if (!tty) return;
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const line = indexProgressLine({ files, finished, framesDone, current, elapsedSeconds: (now - started) / 1000 });
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 100) - 1)}`);
  };
  return (e) => {
    if (e.type === 'plan') files = e.files;
    else if (e.type === 'start') current = { frames: 0, expected: 0, name: path.basename(e.path) };
    // The sampler takes one frame per 1/fps seconds of the probed duration.
    else if (e.type === 'frames') current = { ...current, frames: e.frames, expected: Math.max(e.frames, Math.ceil(e.duration * sampleFps)) };
    else if (e.type === 'done') {
      finished++;
      framesDone += e.result.status === 'indexed' ? e.result.frames : 0;
      current = { frames: 0, expected: 0, name: '' };
      if (tty && e.result.status === 'failed') process.stderr.write(`\r\x1b[2Kfailed: ${e.result.path}: ${e.result.error}\n`);
      if (tty && finished === files) {
        draw(true);
        process.stderr.write('\n');
        return;
      }
    }
    draw();
  };
}
