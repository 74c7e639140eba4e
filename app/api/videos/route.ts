// GET /api/videos?status=&offset=&limit= → one page of the library, ordered by path.
import { z } from 'zod';
import { VIDEO_STATUSES, orList } from '@/indexer';
import { videoJson, type VideoPageJson } from '@/app/lib/dto';
import { getEngine } from '@/app/lib/engine';
import { handle, intParam, json, parseQuery } from '@/app/lib/http';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const MAX_LIMIT = 500;

const Query = z.object({
  status: z.enum(VIDEO_STATUSES, { error: `status must be ${orList(VIDEO_STATUSES)}` }).optional(),
  offset: intParam('offset', 0, Number.MAX_SAFE_INTEGER).default(0),
  limit: intParam('limit', 1, MAX_LIMIT).default(100),
});

export const GET = handle(async (req) => {
  const { status, offset, limit } = parseQuery(req, Query);
  const engine = await getEngine();
  const [total, videos] = await Promise.all([engine.store.countVideos(status), engine.store.videos({ status, offset, limit })]);
  const states = await engine.fileStates(videos);
  const page: VideoPageJson = { total, offset, limit, videos: videos.map((v) => videoJson(v, states.get(v.id)!)) };
  return json(page);
});
