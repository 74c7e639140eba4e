// GET /api/videos/:id → one video with its segments (times only, no vectors) and its file's state.
import { videoJson, type VideoDetailJson } from '@/app/lib/dto';
import { getEngine } from '@/app/lib/engine';
import { handle, json, notFound, videoIdParam } from '@/app/lib/http';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export const GET = handle(async (_req, ctx: { params: Promise<{ id: string }> }) => {
  const id = await videoIdParam(ctx);
  const engine = await getEngine();
  const video = (await engine.store.video(id)) ?? notFound(`no video with id ${id}`);
  const [segments, states] = await Promise.all([engine.store.videoSegments(id), engine.fileStates([video])]);
  const detail: VideoDetailJson = { ...videoJson(video, states.get(id)!), segments: segments.map(({ idx, start, end }) => ({ idx, start, end })) };
  return json(detail);
});
