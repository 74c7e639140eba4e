// GET /api/libraries → the followed folders with their counts; POST {path, watch?, mode?} adds one
// and queues its scan (201); DELETE ?id=N removes one: its videos leave the index, its files stay.
import { z } from 'zod';
import { libraryJson, type LibrariesJson, type LibraryJson } from '@/app/lib/dto';
import { getWork } from '@/app/lib/engine';
import { HttpError, handle, intParam, json, parseBody, parseQuery } from '@/app/lib/http';
import { addLibrary, listLibraries, removeLibrary } from '@/indexer';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const AddBody = z.object({
  path: z.string({ error: 'path must be the folder to add, as text' }).trim().min(1, 'path must be the folder to add').max(4096, 'path is too long'),
  watch: z.boolean({ error: 'watch must be true or false' }).optional(),
  mode: z.enum(['inotify', 'poll'], { error: 'mode must be inotify or poll' }).optional(),
});

const ById = z.object({ id: intParam('library id', 1, Number.MAX_SAFE_INTEGER) });

export const GET = handle(async () => {
  const work = await getWork();
  const body: LibrariesJson = { libraries: (await listLibraries(work)).map(libraryJson) };
  return json(body);
});

export const POST = handle(async (req) => {
  const input = await parseBody(req, AddBody);
  const work = await getWork();
  const { library, created, scanJob } = await addLibrary(work, input.path, { watch: input.watch, mode: input.mode });
  const view = (await listLibraries(work)).find((l) => l.id === library.id);
  if (!view) throw new HttpError(409, `the library ${library.path} was removed meanwhile`);
  return json({ library: libraryJson(view), created, scanJob } satisfies { library: LibraryJson; created: boolean; scanJob: number }, { status: created ? 201 : 200 });
});

export const DELETE = handle(async (req) => {
  const { id } = parseQuery(req, ById);
  const work = await getWork();
  const { library, removedVideos } = await removeLibrary(work, id);
  return json({ removed: library.path, removedVideos });
});
