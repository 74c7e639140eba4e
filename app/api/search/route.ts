// GET /api/search?q=&k=&offset=&action= → the same document as `vidsearch search --json`. With
// `action`, only videos and segments tagged with that action label (in the library's label set) are
// searched. Pages: offset=k, 2k, … while `more` is true; the order is the same on every page.
// GET /api/search?like=<videoId>&t=<seconds> → more like that moment (the stored frame nearest t is
// the query; `vidsearch search --like <videoId>@<seconds>`). q and like exclude each other; the
// schema is the CLI's (indexer/core/search-request.ts).
// POST /api/search, multipart/form-data with a picture in "image" (and optionally k, action) →
// the library searched with that picture (`vidsearch search --image <file>`), the same document,
// its `query` naming the picture. The upload follows /api/actions' rules (app/lib/upload.ts): a
// place in line and temporary space taken before the body is read, size-limited, its type told by
// its content (ffmpeg's picture demuxers only), a private temporary file, always removed.
import { ImageSearchFields, parseSearchRequest, SearchRequest } from '@/indexer';
import { requireToken, uploadLimits } from '@/app/lib/actions';
import { getEngine } from '@/app/lib/engine';
import { HttpError, handle, json, parseQuery } from '@/app/lib/http';
import { CLOSE } from '@/app/lib/multipart';
import { imageSlots, MAX_IMAGE_BYTES, refuseUpload, withUpload } from '@/app/lib/upload';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export const GET = handle(async (req) => {
  const { q, like, t, k, offset, action } = parseQuery(req, SearchRequest);
  const engine = await getEngine();
  if (like !== undefined) return json(await engine.searcher.searchLike(like, t!, { k, offset, action }));
  return json(await engine.searcher.search(q!, { k, offset, action }));
});

export const POST = handle(async (req) => {
  requireToken(req);
  const type = (req.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'multipart/form-data') throw new HttpError(415, 'send multipart/form-data with the picture in "image" (or GET /api/search?q=… for text)', CLOSE);
  const engine = await getEngine();
  const upload = uploadLimits();
  const limits = { ...upload, maxBytes: Math.min(upload.maxBytes, MAX_IMAGE_BYTES) };
  const busy = `busy with other picture searches (${imageSlots.max} at a time, ${imageSlots.maxWaiting} waiting): try again shortly`;
  return withUpload(req, { limits, slots: imageSlots, busy, fileField: 'image', maxFields: 4 }, async ({ fields, file, place }) => {
    const raw: Record<string, string> = {};
    for (const [name, values] of fields) {
      if (values.length > 1) throw new HttpError(400, `the field "${name}" was sent ${values.length} times`);
      raw[name] = values[0];
    }
    const options = parseSearchRequest(raw, ImageSearchFields);
    if (!file) throw new HttpError(400, 'no picture: send it in the "image" field');
    const res = await place
      .run(() => engine.searcher.searchImage(file.path, { ...options, name: file.name, signal: req.signal }))
      // What ffmpeg says about the upload is the client's, by the error's kind: not a picture (415), too many pixels (413).
      .catch((err: unknown) => refuseUpload(err, file, { 'too-large': 413, 'not-an-image': 415 }));
    return json(res);
  });
});
