// POST /api/jobs/<id>/retry → queues a failed job again from scratch (202); 404 when there is no
// failed job with that id.
import { getWork } from '@/app/lib/engine';
import { HttpError, handle, json, parseIdParam } from '@/app/lib/http';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export const POST = handle(async (_req, ctx: { params: Promise<{ id: string }> }) => {
  const id = await parseIdParam(ctx, 'job id');
  const job = await (await getWork()).queue.retry(id);
  if (job === undefined) throw new HttpError(404, `no failed job ${id}`);
  return json({ job }, { status: 202 });
});
