// The HTTP side shared by the route handlers: query and path parsing (zod), JSON responses, and
// the one place where the engine's typed errors become status codes.
import { z } from 'zod';
import { errorKind, logOnce, intParam, secondsParam, type ErrorKind } from '@/indexer';

/** A failure that already knows its status (unknown id, file gone from disk), and maybe headers. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export function notFound(message: string): never {
  throw new HttpError(404, message);
}

// By name, not instanceof: Next.js may bundle the engine into more than one server chunk, and an
// error made by one chunk's copy of errors.ts is not an instance of another chunk's class.
const STATUS_BY_NAME: Record<string, number> = {
  UsageError: 400,
  // a UsageError too, for the CLI's exit code; here the thing named does not exist
  NotFoundError: 404,
  ModelError: 503,
  StoreError: 503,
  LockedError: 503,
  // A library file that is not (or no longer) one the server may read for this video (library.ts).
  FileNotServedError: 404,
  FileChangedError: 409,
  // the data directory's disk is full: the server's storage, not the request
  DiskFullError: 507,
  // ffmpeg could not read the file: the server failed, and the message says why.
  MediaError: 500,
  // ffmpeg/ffprobe missing, broken or crashed: the server's tools
  ToolError: 500,
  // a folder that cannot be a library, or no such library: refined by kind (STATUS_BY_KIND)
  LibraryError: 422,
};

// Kinds whose status differs from their class's: an ffmpeg/ffprobe that cannot run at all is a
// lasting server state (503), unlike one that crashed on a file (500).
// A folder that cannot be a library, or one inside another library: the request's fault.
const STATUS_BY_KIND: Partial<Record<ErrorKind, number>> = { 'tool-missing': 503, 'not-a-folder': 422, 'nested-library': 409, 'not-found': 404 };

/** Status and a message safe to show: the engine's messages say what to do; anything else is hidden. */
export function describeError(err: unknown): { status: number; message: string; headers?: Record<string, string> } {
  if (err instanceof Error) {
    const kind = errorKind(err);
    const status = err.name === 'HttpError' ? (err as HttpError).status : ((kind && STATUS_BY_KIND[kind]) ?? STATUS_BY_NAME[err.name]);
    if (status) {
      // A missing model is a lasting state that every request runs into: said once, not per request.
      if (err.name === 'ModelError') logOnce(err.message, `${err.name}: ${err.message}`);
      else if (status >= 500) console.error(`${err.name}: ${err.message}`);
      return { status, message: err.message, headers: err.name === 'HttpError' ? (err as HttpError).headers : undefined };
    }
  }
  console.error(err);
  return { status: 500, message: 'internal server error' };
}

export function json(data: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  // Results change as the library is indexed; nothing here may be served from a cache.
  if (!headers.has('Cache-Control')) headers.set('Cache-Control', 'no-store');
  return Response.json(data, { ...init, headers });
}

/** Wraps a route handler so that every failure becomes a JSON error with the right status. */
export function handle<Ctx>(fn: (req: Request, ctx: Ctx) => Promise<Response>): (req: Request, ctx: Ctx) => Promise<Response> {
  return async (req, ctx) => {
    try {
      return await fn(req, ctx);
    } catch (err) {
      const { status, message, headers } = describeError(err);
      return json({ error: message }, { status, headers });
    }
  };
}

/** zod's messages as one 400. */
export function usage(error: z.ZodError): HttpError {
  return new HttpError(400, error.issues.map((i) => i.message).join('; '));
}

/** The query string, parsed by `schema`; 400 with zod's messages otherwise. */
export function parseQuery<S extends z.ZodType>(req: Request, schema: S): z.output<S> {
  const result = schema.safeParse(Object.fromEntries(new URL(req.url).searchParams));
  if (!result.success) throw usage(result.error);
  return result.data;
}

// Defined with the schemas the CLI shares (indexer/core/search-request.ts); here for the other routes.
export { intParam, secondsParam };

const VideoId = intParam('video id', 1, Number.MAX_SAFE_INTEGER);

/** The `[id]` path segment as a video id; 400 for anything but a positive integer. */
export async function videoIdParam(ctx: { params: Promise<{ id: string }> }): Promise<number> {
  const result = VideoId.safeParse((await ctx.params).id);
  if (!result.success) throw usage(result.error);
  return result.data;
}

/** The `[id]` path segment as a positive integer id of the thing named; 400 otherwise. */
export async function parseIdParam(ctx: { params: Promise<{ id: string }> }, name: string): Promise<number> {
  const result = intParam(name, 1, Number.MAX_SAFE_INTEGER).safeParse((await ctx.params).id);
  if (!result.success) throw usage(result.error);
  return result.data;
}

// A management request is a few fields; anything larger is not one.
const MAX_SMALL_JSON_BYTES = 64 * 1024;

/**
 * A small JSON body, parsed by `schema`: 415 for another content type, 413 past 64 KiB, 400 for
 * JSON that is malformed or does not fit the schema. `optional`: an empty body counts as {}.
 */
export async function parseBody<S extends z.ZodType>(req: Request, schema: S, opts: { optional?: boolean } = {}): Promise<z.output<S>> {
  const text = await readSmall(req);
  let value: unknown = {};
  if (text.trim() === '') {
    if (!opts.optional) throw new HttpError(400, 'the body is empty: send a JSON object');
  } else {
    const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new HttpError(415, 'send the body as application/json');
    try {
      value = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'the body is not valid JSON');
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) throw usage(result.error);
  return result.data;
}

async function readSmall(req: Request): Promise<string> {
  return (await readCapped(req, MAX_SMALL_JSON_BYTES, () => new HttpError(413, `the body is too large (at most ${MAX_SMALL_JSON_BYTES / 1024} KiB)`))) ?? '';
}

/**
 * The body as text, read with a size cap: Content-Length up front, then the bytes as they are
 * counted (a client may send more than it announced). undefined when there is no body.
 */
export async function readCapped(req: Request, maxBytes: number, tooBig: () => HttpError): Promise<string | undefined> {
  if (Number(req.headers.get('content-length') ?? 0) > maxBytes) throw tooBig();
  if (!req.body) return undefined;
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooBig();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
