// GET /api/jobs?state=queued|running|done|failed&limit=N → the queue by state, the latest jobs
// (newest first) and the workers seen; what the Library page polls for its live view.
import { z } from 'zod';
import { jobJson, workerJson, type JobsJson } from '@/app/lib/dto';
import { getWork } from '@/app/lib/engine';
import { handle, intParam, json, parseQuery } from '@/app/lib/http';
import { JOB_STATES } from '@/indexer';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const Query = z.object({
  state: z.enum(JOB_STATES, { error: `state must be one of ${JOB_STATES.join(', ')}` }).optional(),
  limit: intParam('limit', 1, 500).default(50),
});

export const GET = handle(async (req) => {
  const { state, limit } = parseQuery(req, Query);
  const { queue } = await getWork();
  const body: JobsJson = {
    counts: await queue.counts(),
    jobs: (await queue.list({ states: state ? [state] : undefined, limit })).map(jobJson),
    workers: (await queue.workers()).map(workerJson),
  };
  return json(body);
});
