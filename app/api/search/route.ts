// GET /api/search?q=&k=&offset=&action= → the same document as `vidsearch search --json`. With
// `action`, only videos and segments tagged with that action label (in the library's label set) are
// searched. Pages: offset=k, 2k, … while `more` is true; the order is the same on every page.
import { z } from 'zod';
import { MAX_LABEL_CHARS } from '@/indexer/actions';
import { getEngine } from '@/app/lib/engine';
import { handle, intParam, json, parseQuery } from '@/app/lib/http';
import { MAX_K, MAX_OFFSET, MAX_QUERY_CHARS } from '@/indexer/search';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const Query = z.object({
  q: z
    .string({ error: 'q is required: say what to look for, e.g. "a dog catching a frisbee"' })
    .trim()
    .min(1, 'q is empty: say what to look for, e.g. "a dog catching a frisbee"')
    .max(MAX_QUERY_CHARS, `q is too long (at most ${MAX_QUERY_CHARS} characters)`),
  k: intParam('k', 1, MAX_K).default(10),
  offset: intParam('offset', 0, MAX_OFFSET).default(0),
  // An empty action (a form's blank field) means no filter.
  action: z
    .string()
    .trim()
    .max(MAX_LABEL_CHARS, `action is too long (at most ${MAX_LABEL_CHARS} characters)`)
    .transform((a) => a || undefined)
    .optional(),
});

export const GET = handle(async (req) => {
  const { q, k, offset, action } = parseQuery(req, Query);
  const engine = await getEngine();
  return json(await engine.searcher.search(q, { k, offset, action }));
});
