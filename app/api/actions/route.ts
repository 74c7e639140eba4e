// POST /api/actions → what happens in a video: zero-shot action labels, the same document as
// `vidsearch tag --json`. Either JSON {"videoId", "labels"?, "labelSet"?, "templates"?, "k"?} for an
// indexed video (scored from its stored vectors, nothing decoded), or multipart/form-data with a
// clip in "file" and the same optional fields: the upload takes a place in the encoder's line (one
// clip at a time, a short line behind it) and its share of the temporary disk before its body is
// read, is streamed to a private temporary directory under a name of vidsearch's own
// (size-limited), checked with ffprobe (length-limited), encoded, tagged, and deleted; it is
// never indexed.
// With VIDSEARCH_API_TOKEN set, requests need `Authorization: Bearer <token>`.
import { z } from 'zod';
import { LABEL_SETS, MAX_CUSTOM_LABELS, MAX_LABEL_CHARS, TEMPLATE_SETS, type OpenEngine, probe, chooseLabelSet, storedVideoTags, tagFile, tagVideo, type TagResult } from '@/indexer';
import { requireToken, uploadLimits, uploadSlots } from '@/app/lib/actions';
import { getEngine } from '@/app/lib/engine';
import { HttpError, handle, intParam, json, readCapped, usage } from '@/app/lib/http';
import { CLOSE, type UploadedFile } from '@/app/lib/multipart';
import { refuseUpload, withUpload } from '@/app/lib/upload';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

const MAX_TAGS = 50;
/** A JSON body: 1000 labels of 200 characters fit with room to spare. */
const MAX_JSON_BYTES = 2 * 1024 * 1024;

const Labels = z
  .array(
    z
      .string({ error: 'each label must be a string' })
      .trim()
      .min(1, 'labels must not be empty')
      .max(MAX_LABEL_CHARS, `each label must be at most ${MAX_LABEL_CHARS} characters`),
    { error: 'labels must be an array of strings, e.g. ["running", "cooking"]' },
  )
  .min(2, 'give at least two labels: probabilities are relative to the other labels')
  .max(MAX_CUSTOM_LABELS, `at most ${MAX_CUSTOM_LABELS} labels`);

const Choice = {
  labels: Labels.optional(),
  labelSet: z.enum(LABEL_SETS, { error: `labelSet must be one of ${LABEL_SETS.join(', ')}` }).optional(),
  templates: z.enum(TEMPLATE_SETS, { error: `templates must be one of ${TEMPLATE_SETS.join(', ')}` }).optional(),
};
const oneSource = (b: { labels?: unknown; labelSet?: unknown }) => !(b.labels && b.labelSet);
const ONE_SOURCE = { message: 'give labels or labelSet, not both' };

const JsonBody = z
  .strictObject(
    {
      videoId: z
        .number({ error: 'videoId is required: the id of an indexed video (or upload a clip as multipart/form-data, field "file")' })
        .int('videoId must be a positive integer')
        .positive('videoId must be a positive integer')
        .max(Number.MAX_SAFE_INTEGER, 'videoId must be a positive integer'),
      ...Choice,
      k: z.number({ error: `k must be an integer from 1 to ${MAX_TAGS}` }).int(`k must be an integer from 1 to ${MAX_TAGS}`).min(1, `k must be at least 1`).max(MAX_TAGS, `k must be at most ${MAX_TAGS}`).default(5),
    },
    { error: (iss) => (iss.code === 'invalid_type' ? 'the body must be a JSON object such as {"videoId": 1}' : undefined) },
  )
  .refine(oneSource, ONE_SOURCE);

// Multipart fields are strings; labels come as a JSON array, comma-separated (like the CLI's
// --labels a,b,c), or one label per repeated "labels" field.
const FormFields = z
  .strictObject({
    videoId: intParam('videoId', 1, Number.MAX_SAFE_INTEGER).optional(),
    ...Choice,
    k: intParam('k', 1, MAX_TAGS).default(5),
  })
  .refine(oneSource, ONE_SOURCE);

type Choice_ = Omit<z.output<typeof JsonBody>, 'videoId'>;

/** The body as JSON, read with a size cap. */
async function readJson(req: Request): Promise<unknown> {
  const text = await readCapped(req, MAX_JSON_BYTES, () => new HttpError(413, `the JSON body is too large (at most ${MAX_JSON_BYTES / 1024 / 1024} MB)`, CLOSE));
  if (text === undefined) throw new HttpError(400, 'the body is empty: send {"videoId": 1}');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `the body is not valid JSON: ${(err as Error).message}`);
  }
}

async function tagIndexed(engine: OpenEngine, videoId: number, choice: Choice_): Promise<TagResult> {
  const set = await chooseLabelSet(engine, choice);
  // The library's own label set is answered from the tags stored at index time when they suffice.
  const res = (await storedVideoTags(engine, videoId, set, choice.k)) ?? (await tagVideo(engine, videoId, set, choice.k));
  if (res) return res;
  const video = await engine.store.video(videoId);
  throw new HttpError(404, video ? `video ${videoId} is not indexed (${video.status}${video.error ? `: ${video.error}` : ''})` : `no video with id ${videoId}`);
}

/** Fields of a multipart body → the request's options; each field at most once, except labels. */
function formChoice(fields: Map<string, string[]>): z.output<typeof FormFields> {
  const raw: Record<string, unknown> = {};
  for (const [name, values] of fields) {
    if (name === 'labels') {
      if (values.length > 1) raw.labels = values;
      else if (values[0].trim().startsWith('[')) {
        try {
          raw.labels = JSON.parse(values[0]);
        } catch {
          throw new HttpError(400, 'labels: not a valid JSON array; send ["a", "b"], a,b or one "labels" field per label');
        }
      } else raw.labels = values[0].split(',');
    } else if (values.length > 1) throw new HttpError(400, `the field "${name}" was sent ${values.length} times`);
    else raw[name] = values[0];
  }
  const parsed = FormFields.safeParse(raw);
  if (!parsed.success) throw usage(parsed.error);
  return parsed.data;
}

// What ffprobe or ffmpeg found wrong with an uploaded file is the client's: not a video they can
// read (415). Their own failures (kinds tool-*: missing, cannot start, crashed) are the server's.
const NOT_A_VIDEO = { 'not-a-video': 415, 'not-an-image': 415, 'too-large': 415, timeout: 415, usage: 415 } as const;

function notAVideo(err: unknown, file: UploadedFile): never {
  refuseUpload(err, file, NOT_A_VIDEO);
}

async function tagUpload(engine: OpenEngine, req: Request): Promise<TagResult> {
  const limits = uploadLimits();
  const busy = `busy encoding other clips (${uploadSlots.max} at a time, ${uploadSlots.maxWaiting} waiting): try again shortly`;
  return withUpload(req, { limits, slots: uploadSlots, busy, fileField: 'file', maxFields: 8 }, async ({ fields, file, place, release }) => {
    const { videoId, ...choice } = formChoice(fields);
    if (file && videoId !== undefined) throw new HttpError(400, 'give videoId or a file, not both');
    if (!file) {
      if (videoId === undefined) throw new HttpError(400, 'no clip: send it in the "file" field (or give videoId)');
      release(); // nothing to encode, nothing on disk
      return await tagIndexed(engine, videoId, choice);
    }
    const set = await chooseLabelSet(engine, choice);
    const res = await place.run(async () => {
      const info = await probe(file.path, { signal: req.signal }).catch((err) => notAVideo(err, file));
      if (info.duration > limits.maxSeconds) {
        throw new HttpError(413, `${file.name} is ${Math.round(info.duration)} s long; clips of at most ${limits.maxSeconds} s are encoded on request (VIDSEARCH_UPLOAD_MAX_SECONDS): index long videos with \`vidsearch index\` instead`);
      }
      return await tagFile(engine, file.path, set, choice.k, req.signal).catch((err) => notAVideo(err, file));
    });
    // The temporary path means nothing to the client: the answer names the file it sent.
    return { ...res, path: file.name };
  });
}

export const POST = handle(async (req) => {
  requireToken(req);
  const type = (req.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json' && type !== 'multipart/form-data') {
    throw new HttpError(415, 'send application/json ({"videoId": 1, "labels": [...]}) or multipart/form-data with the clip in "file"', CLOSE);
  }
  const engine = await getEngine();
  if (type === 'multipart/form-data') return json(await tagUpload(engine, req));
  const parsed = JsonBody.safeParse(await readJson(req));
  if (!parsed.success) throw usage(parsed.error);
  const { videoId, ...choice } = parsed.data;
  return json(await tagIndexed(engine, videoId, choice));
});
