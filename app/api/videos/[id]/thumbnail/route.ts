// GET /api/videos/:id/thumbnail?t= → a JPEG of the frame at t seconds (default: the first frame),
// cached on disk and in the browser for a day. Only of a file the engine may serve (library.ts).
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
  const engine = await getEngine();
  const video = (await engine.store.video(id)) ?? notFound(`no video with id ${id}`);
  // A duration of 0 means the container did not say; ffmpeg then decides whether t exists.
  if (video.duration && t > video.duration) throw new HttpError(400, `t must be from 0 to the video's duration, ${video.duration} s; got ${t}`);
  // The same rule as the stream: indexed, inside a library root, unchanged since indexing (404/409).
  const file = await engine.openVideoFile(video);
  let jpeg: Buffer;
  try {
    jpeg = await cachedThumbnail(engine.cfg.home, video, t, file, engine.cfg.thumbnailCacheMb * 2 ** 20);
  } finally {
    await file.handle.close();
  }
  return new Response(new Uint8Array(jpeg), {
    headers: { 'Content-Type': 'image/jpeg', 'Content-Length': String(jpeg.length), 'Cache-Control': 'public, max-age=86400' },
  });
});
