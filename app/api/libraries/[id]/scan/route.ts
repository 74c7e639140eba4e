// POST /api/libraries/<id>/scan {retryFailed?} → queues a rescan of the library (202).
import { z } from 'zod';
import { getWork } from '@/app/lib/engine';
import { handle, json, parseBody, parseIdParam } from '@/app/lib/http';
import { scanLibrary } from '@/indexer';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const Options = z.object({ retryFailed: z.boolean({ error: 'retryFailed must be true or false' }).optional() });

export const POST = handle(async (req, ctx: { params: Promise<{ id: string }> }) => {
  const id = await parseIdParam(ctx, 'library id');
  const opts = await parseBody(req, Options, { optional: true });
  const job = await scanLibrary(await getWork(), id, opts);
  return json({ job }, { status: 202 });
});
