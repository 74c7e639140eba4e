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
};

// Kinds whose status differs from their class's: an ffmpeg/ffprobe that cannot run at all is a
// lasting server state (503), unlike one that crashed on a file (500).
const STATUS_BY_KIND: Partial<Record<ErrorKind, number>> = { 'tool-missing': 503 };

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

function usage(error: z.ZodError): HttpError {
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
