// GET /api/videos/:id → one video with its segments (times only, no vectors).
import { videoJson, type VideoDetailJson } from '@/app/lib/dto';
import { getEngine } from '@/app/lib/engine';
import { handle, json, notFound, videoIdParam } from '@/app/lib/http';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export const GET = handle(async (_req, ctx: { params: Promise<{ id: string }> }) => {
  const id = await videoIdParam(ctx);
  const { store } = await getEngine();
  const video = (await store.video(id)) ?? notFound(`no video with id ${id}`);
  const segments = await store.videoSegments(id);
  const detail: VideoDetailJson = { ...videoJson(video), segments: segments.map(({ idx, start, end }) => ({ idx, start, end })) };
  return json(detail);
});
