// Thumbnails cached on disk under <home>/thumbnails. The name holds the file's size and mtime, so
// a video changed on disk gets new pictures instead of stale ones. Only a file the engine checked
// and opened (engine.openVideoFile, the rule the stream follows too) is ever handed to ffmpeg.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { markUsed, pruneLeastRecentlyUsed, type PruneReport, type VideoFile, thumbnail, type VideoRecord } from '@/indexer';
import { Slots } from '@/app/lib/slots';

// A library page asks for dozens of thumbnails at once; one ffmpeg per core at most.
const ffmpegSlots = new Slots(Math.max(1, os.availableParallelism()));

function thumbnailFile(home: string, videoId: number, seconds: number, file: fs.Stats): string {
  return path.join(home, 'thumbnails', `${videoId}-${Math.round(seconds * 1000)}-${file.size}-${Math.floor(file.mtimeMs)}.jpg`);
}

/**
 * The JPEG bytes of the frame at `seconds`, made by ffmpeg on the first request. A hit marks the
 * file used (its access time, set explicitly: many disks are mounted noatime), and a new file may
 * set off pruning of the least recently used ones beyond `maxBytes`.
 */
export async function cachedThumbnail(home: string, video: VideoRecord, seconds: number, file: Pick<VideoFile, 'realPath' | 'stats'>, maxBytes = Infinity): Promise<Buffer> {
  const cacheFile = thumbnailFile(home, video.id, seconds, file.stats);
  const cached = await fs.promises.readFile(cacheFile).catch(() => null);
  if (cached) {
    // Awaited (two syscalls), so a response means the hit is recorded.
    await markUsed(cacheFile);
    return cached;
  }
  // The last frame starts one frame interval before the end; seeking past it yields no picture.
  const frameInterval = 1 / (video.fps || 25);
  const seek = video.duration ? Math.min(seconds, Math.max(0, video.duration - frameInterval)) : seconds;
  // The checked real path, not the row's: a symlink on the way cannot be swapped to point elsewhere.
  await ffmpegSlots.run(() => thumbnail(file.realPath, seek, cacheFile));
  const jpeg = await fs.promises.readFile(cacheFile);
  maybePrune(path.dirname(cacheFile), maxBytes);
  return jpeg;
}

// Pruning lists the whole folder, so it runs at most every PRUNE_EVERY_MS per process, one at a time.
const PRUNE_EVERY_MS = 30_000;
let lastPrune = 0;
let pruning = false;

function maybePrune(dir: string, maxBytes: number): void {
  if (!Number.isFinite(maxBytes) || pruning || Date.now() - lastPrune < PRUNE_EVERY_MS) return;
  pruning = true;
  lastPrune = Date.now();
  pruneThumbnails(dir, maxBytes)
    .catch(() => {}) // a cache: failing to prune must never fail the picture
    .finally(() => (pruning = false));
}

/**
 * Deletes the least recently used thumbnails until the folder holds at most 80 % of `maxBytes`
 * (when it holds more than `maxBytes`), so a large library's cache stays within its budget.
 */
export function pruneThumbnails(dir: string, maxBytes: number): Promise<PruneReport> {
  return pruneLeastRecentlyUsed(dir, maxBytes, { match: (name) => name.endsWith('.jpg') });
}
