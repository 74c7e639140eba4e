// What a search asks for, as the HTTP API (GET /api/search) and the CLI (`vidsearch search`) both
// take it: one zod schema over string inputs (a query string, flags), so that the two accept and
// refuse the same things with the same messages.
import { z } from 'zod';
import { MAX_LABEL_CHARS } from './labels';
import { UsageError } from './errors';

export const MAX_QUERY_CHARS = 1000;
export const MAX_K = 200;
/** Pages reach this deep at most: a page needs the search to rank every video before it. */
export const MAX_OFFSET = 1000;

const quoted = (value: string) => JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);

/**
 * A parameter holding a whole number in [min, max]. Plain digits only: Number() would also
 * take "", " 5", "1e3" and "0x10".
 */
export function intParam(name: string, min: number, max: number) {
  return z.string().transform((s, ctx) => {
    const n = /^\d{1,16}$/.test(s) ? Number(s) : NaN;
    if (Number.isSafeInteger(n) && n >= min && n <= max) return n;
    ctx.addIssue({ code: 'custom', message: `${name} must be an integer from ${min} to ${max}, got ${quoted(s)}` });
    return z.NEVER;
  });
}

/** A parameter holding a non-negative decimal number such as "12" or "4.25" (seconds). */
export function secondsParam(name: string) {
  return z.string().transform((s, ctx) => {
    if (/^\d{1,12}(\.\d{1,9})?$/.test(s)) return Number(s);
    ctx.addIssue({ code: 'custom', message: `${name} must be a number of seconds such as 12 or 4.5, got ${quoted(s)}` });
    return z.NEVER;
  });
}

const EXAMPLE = 'say what to look for, e.g. "a dog catching a frisbee"';

/**
 * A text query (`q`) or a moment to find more like (`like` = video id, `t` = seconds into it):
 * exactly one of the two. `k` videos from `offset`; `action` keeps only videos and segments tagged with it.
 */
export const SearchRequest = z
  .object({
    q: z.string().trim().min(1, `q is empty: ${EXAMPLE}`).max(MAX_QUERY_CHARS, `q is too long (at most ${MAX_QUERY_CHARS} characters)`).optional(),
    like: intParam('like (a video id)', 1, Number.MAX_SAFE_INTEGER).optional(),
    t: secondsParam('t').optional(),
    k: intParam('k', 1, MAX_K).default(10),
    // Pages: offset = k, 2k, … while the answer says `more`; the order is the same on every page.
    offset: intParam('offset', 0, MAX_OFFSET).default(0),
    // An empty action (a form's blank field) means no filter.
    action: z
      .string()
      .trim()
      .max(MAX_LABEL_CHARS, `action is too long (at most ${MAX_LABEL_CHARS} characters)`)
      .transform((a) => a || undefined)
      .optional(),
  })
  .superRefine((r, ctx) => {
    const issue = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (r.q !== undefined && r.like !== undefined) issue('give q (text) or like (a moment), not both');
    else if (r.q === undefined && r.like === undefined) issue(`q is required: ${EXAMPLE} (or like=<videoId>&t=<seconds> for more like a moment)`);
    else if (r.like !== undefined && r.t === undefined) issue('t is required with like: the moment, in seconds into the video');
    else if (r.like === undefined && r.t !== undefined) issue('t goes with like=<videoId>: the moment to find more like');
  });

export type SearchRequest = z.output<typeof SearchRequest>;

/** What goes with a picture (POST /api/search's form fields, `search --image`'s flags): the picture is the query. */
export const ImageSearchFields = z.strictObject({ k: SearchRequest.shape.k, action: SearchRequest.shape.action });

/** `raw` parsed by `schema`, or a UsageError with zod's messages (the CLI's exit 2, HTTP 400). */
export function parseSearchRequest<S extends z.ZodType = typeof SearchRequest>(raw: Record<string, string | undefined>, schema?: S): z.output<S> {
  const result = (schema ?? SearchRequest).safeParse(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
  if (!result.success) throw new UsageError(result.error.issues.map((i) => i.message).join('; '), { cause: { fields: Object.keys(raw) } });
  return result.data as z.output<S>;
}

/** The CLI's `--like <videoId>@<seconds>` as the schema's like and t. */
export function splitLike(spec: string): { like: string; t: string } {
  const m = /^([^@]*)@([^@]*)$/.exec(spec.trim());
  if (!m) throw new UsageError(`--like takes <videoId>@<seconds>, e.g. 12@4.5, got ${quoted(spec)}`, { cause: { field: 'like' } });
  return { like: m[1], t: m[2] };
}

// The searcher's own checks of what it is called with (the CLI and the pages call it directly).

export function validateOffset(offset: unknown): number {
  const n = typeof offset === 'number' ? offset : Number(offset);
  if (!Number.isInteger(n) || n < 0 || n > MAX_OFFSET) throw new UsageError(`offset must be an integer from 0 to ${MAX_OFFSET}, got "${offset}"`, { cause: { field: 'offset' } });
  return n;
}

export function validateQuery(query: unknown, k: unknown = 10): { query: string; k: number } {
  const q = typeof query === 'string' ? query.trim() : '';
  if (!q) throw new UsageError('the query is empty: say what to look for, e.g. "a dog catching a frisbee"', { cause: { field: 'q' } });
  if (q.length > MAX_QUERY_CHARS) throw new UsageError(`the query is too long (${q.length} characters, at most ${MAX_QUERY_CHARS})`, { cause: { field: 'q' } });
  const n = typeof k === 'number' ? k : Number(k);
  if (!Number.isInteger(n) || n < 1 || n > MAX_K) throw new UsageError(`k must be an integer from 1 to ${MAX_K}, got "${k}"`, { cause: { field: 'k' } });
  return { query: q, k: n };
}

export function validateK(k: unknown): number {
  const n = typeof k === 'number' ? k : Number(k);
  if (!Number.isInteger(n) || n < 1 || n > MAX_K) throw new UsageError(`k must be an integer from 1 to ${MAX_K}, got "${k}"`, { cause: { field: 'k' } });
  return n;
}
