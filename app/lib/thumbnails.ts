// Thumbnails cached on disk under <home>/thumbnails. The name holds the file's size and mtime, so
// a video changed on disk gets new pictures instead of stale ones.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { thumbnail } from '@/indexer/media';
import type { VideoRecord } from '@/indexer/store';

// A library page asks for dozens of thumbnails at once; one ffmpeg per core at most.
const MAX_RUNNING = Math.max(1, os.availableParallelism());
let running = 0;
const waiting: Array<() => void> = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  // A finishing call hands its slot straight to the next waiter, so newcomers cannot overtake.
  if (running >= MAX_RUNNING) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function thumbnailFile(home: string, videoId: number, seconds: number, file: fs.Stats): string {
  return path.join(home, 'thumbnails', `${videoId}-${Math.round(seconds * 1000)}-${file.size}-${Math.floor(file.mtimeMs)}.jpg`);
}

/** The JPEG bytes of the frame at `seconds`, made by ffmpeg on the first request. */
export async function cachedThumbnail(home: string, video: VideoRecord, seconds: number, file: fs.Stats): Promise<Buffer> {
  const cacheFile = thumbnailFile(home, video.id, seconds, file);
  const cached = await fs.promises.readFile(cacheFile).catch(() => null);
  if (cached) return cached;
  // The last frame starts one frame interval before the end; seeking past it yields no picture.
  const frameInterval = 1 / (video.fps || 25);
  const seek = video.duration ? Math.min(seconds, Math.max(0, video.duration - frameInterval)) : seconds;
  await limited(() => thumbnail(video.path, seek, cacheFile));
  return fs.promises.readFile(cacheFile);
}
