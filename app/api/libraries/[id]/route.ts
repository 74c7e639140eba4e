// PATCH /api/libraries/<id> {watch?, mode?} → pauses or resumes watching; DELETE removes the library
// (its videos leave the index, its files stay).
import { z } from 'zod';
import { libraryJson } from '@/app/lib/dto';
import { getWork } from '@/app/lib/engine';
import { handle, json, parseBody, parseIdParam } from '@/app/lib/http';
import { listLibraries, removeLibrary, setWatching } from '@/indexer';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const Changes = z
  .object({
    watch: z.boolean({ error: 'watch must be true or false' }).optional(),
    mode: z.enum(['inotify', 'poll'], { error: 'mode must be inotify or poll' }).optional(),
  })
  .refine((c) => c.watch !== undefined || c.mode !== undefined, 'give watch or mode');

type Ctx = { params: Promise<{ id: string }> };

export const PATCH = handle(async (req, ctx: Ctx) => {
  const id = await parseIdParam(ctx, 'library id');
  const changes = await parseBody(req, Changes);
  const work = await getWork();
  const lib = await setWatching(work, id, changes);
  return json({ library: libraryJson((await listLibraries(work)).find((l) => l.id === lib.id)!) });
});

export const DELETE = handle(async (_req, ctx: Ctx) => {
  const id = await parseIdParam(ctx, 'library id');
  const { library, removedVideos } = await removeLibrary(await getWork(), id);
  return json({ removed: library.path, removedVideos });
});
