// GET|HEAD /api/videos/:id/stream → the video file, with byte ranges for seeking. The path comes
// from the database row of the id, never from the request, and the engine decides whether that file
// may be served (indexed, inside a library root, unchanged: library.ts); the bytes are read from the
// file it checked and opened.
import type { Stats } from 'node:fs';
import { getEngine } from '@/app/lib/engine';
import { handle, notFound, videoIdParam } from '@/app/lib/http';
import { contentType, fileBody, parseRange, type ByteRange } from '@/app/lib/stream';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

type Ctx = { params: Promise<{ id: string }> };

async function serve(req: Request, ctx: Ctx, withBody: boolean): Promise<Response> {
  const id = await videoIdParam(ctx);
  const engine = await getEngine();
  const video = (await engine.store.video(id)) ?? notFound(`no video with id ${id}`);
  const { handle: fd, stats } = await engine.openVideoFile(video);
  let handedOver = false;
  try {
    return respond(req, video.path, stats, withBody, (part) => {
      handedOver = true;
      return fileBody(fd, part);
    });
  } finally {
    // The body owns the handle once made; without one (HEAD, 416, empty file) it is closed here.
    if (!handedOver) await fd.close();
  }
}

function respond(req: Request, file: string, st: Stats, withBody: boolean, open: (part: ByteRange) => ReadableStream<Uint8Array>): Response {
  const size = st.size;
  const etag = `"${size.toString(36)}-${Math.floor(st.mtimeMs).toString(36)}"`;
  const lastModified = st.mtime.toUTCString();
  const headers = new Headers({
    'Content-Type': contentType(file),
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'Last-Modified': lastModified,
    'Cache-Control': 'no-cache',
  });
  // A Range for another version of the file than the client holds (If-Range) gets the whole file.
  const ifRange = req.headers.get('if-range');
  const range = ifRange && ifRange !== etag && ifRange !== lastModified ? 'full' : parseRange(req.headers.get('range'), size);

  if (range === 'unsatisfiable') {
    headers.set('Content-Range', `bytes */${size}`);
    return new Response(null, { status: 416, headers });
  }
  const part = range === 'full' ? { start: 0, end: size - 1 } : range;
  // `next start` (16.4) drops Content-Length from route handler responses and sends the body
  // chunked; players still get the size from Content-Range, which a 206 always carries.
  headers.set('Content-Length', String(part.end - part.start + 1));
  if (range !== 'full') headers.set('Content-Range', `bytes ${part.start}-${part.end}/${size}`);
  const body = withBody && size > 0 ? open(part) : null;
  return new Response(body, { status: range === 'full' ? 200 : 206, headers });
}

export const GET = handle((req, ctx: Ctx) => serve(req, ctx, true));
export const HEAD = handle((req, ctx: Ctx) => serve(req, ctx, false));
