// GET /api/videos/:id/thumbnail?t= → a JPEG of the frame at t seconds (default: the first frame),
// cached on disk and in the browser for a day.
import fs from 'node:fs';
import { z } from 'zod';
import { getEngine } from '@/app/lib/engine';
import { HttpError, handle, notFound, parseQuery, secondsParam, videoIdParam } from '@/app/lib/http';
import { cachedThumbnail } from '@/app/lib/thumbnails';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const Query = z.object({ t: secondsParam('t').default(0) });

export const GET = handle(async (req, ctx: { params: Promise<{ id: string }> }) => {
  const id = await videoIdParam(ctx);
  const { t } = parseQuery(req, Query);
  const { cfg, store } = await getEngine();
  const video = (await store.video(id)) ?? notFound(`no video with id ${id}`);
  if (video.status !== 'indexed') notFound(`video ${id} has no pictures: it is ${video.status}${video.error ? ` (${video.error})` : ''}`);
  // A duration of 0 means the container did not say; ffmpeg then decides whether t exists.
  if (video.duration && t > video.duration) throw new HttpError(400, `t must be from 0 to the video's duration, ${video.duration} s; got ${t}`);
  const st = await fs.promises.stat(video.path).catch(() => null);
  if (!st?.isFile()) notFound(`the file of video ${id} is gone from disk: ${video.path}`);
  const jpeg = await cachedThumbnail(cfg.home, video, t, st, cfg.thumbnailCacheMb * 2 ** 20);
  return new Response(new Uint8Array(jpeg), {
    headers: { 'Content-Type': 'image/jpeg', 'Content-Length': String(jpeg.length), 'Cache-Control': 'public, max-age=86400' },
  });
});
