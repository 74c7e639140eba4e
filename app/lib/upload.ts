// Receiving one uploaded file for a route (POST /api/actions' clips, POST /api/search's pictures),
// the same way everywhere: a place in the route's line and a share of the temporary disk taken
// before a byte of the body is read (a burst is turned away at the door, not after each upload
// has been written to disk), the body streamed to a private (0700) directory of its own under a
// name vidsearch gives it (size-limited as it arrives), and the directory removed whatever happens.
import fs from 'node:fs';
import path from 'node:path';
import { uploadRoot, uploadSpace, type UploadLimits } from '@/app/lib/actions';
import { errorKind, type ErrorKind } from '@/indexer';
import { HttpError } from '@/app/lib/http';
import { CLOSE, readMultipart, tooLarge, type MultipartBody } from '@/app/lib/multipart';
import { Busy, Slots, type Place } from '@/app/lib/slots';

/** One multipart field; the whole body may exceed the file limit by twice this. */
export const MAX_FIELD_BYTES = 1024 * 1024;
const MULTIPART_OVERHEAD = 2 * MAX_FIELD_BYTES;

/**
 * A search picture far larger than any photo is refused at the door (VIDSEARCH_UPLOAD_MAX_MB still
 * applies when smaller): decoding and encoding one picture is quick, holding 512 MB of one is not.
 */
export const MAX_IMAGE_BYTES = 32 * 1024 * 1024;

/**
 * Decoding and encoding one search picture takes a fraction of a second: two at a time, a line of
 * 8. Not the clips' line (one at a time, each may take minutes), so a picture never waits behind
 * a clip being tagged.
 */
export const imageSlots = new Slots(2, 8);

export function contentLength(req: Request): number | undefined {
  const raw = req.headers.get('content-length');
  return raw !== null && /^\d{1,16}$/.test(raw) ? Number(raw) : undefined;
}

export interface UploadRules {
  limits: Pick<UploadLimits, 'maxBytes' | 'budgetBytes'>;
  /** the line the work on the file waits in */
  slots: Slots;
  /** what a 503 says when the line is full */
  busy: string;
  fileField: string;
  maxFields: number;
}

export interface ReceivedUpload extends MultipartBody {
  /** the place in line, to run the work on the file in */
  place: Place;
  /** gives up the place and the space early (nothing to work on); harmless to call twice */
  release(): void;
}

function admit(req: Request, rules: UploadRules): { place: Place; release(): void; grow(bytes: number): void } {
  const declared = contentLength(req);
  if ((declared ?? 0) > rules.limits.maxBytes + MULTIPART_OVERHEAD) throw tooLarge(rules.limits.maxBytes);
  let place: Place;
  try {
    place = rules.slots.reserve();
  } catch (err) {
    throw err instanceof Busy ? new HttpError(503, rules.busy, { 'Retry-After': '10', ...CLOSE }) : err;
  }
  try {
    const space = uploadSpace.claim(declared ?? 0, rules.limits.budgetBytes);
    return { place, grow: space.grow, release: () => (place.release(), space.release()) };
  } catch (err) {
    place.release();
    throw err;
  }
}

/** Receives the request's multipart body and runs `work` on it; the file is gone when this settles. */
export async function withUpload<T>(req: Request, rules: UploadRules, work: (upload: ReceivedUpload) => Promise<T>): Promise<T> {
  const { place, grow, release } = admit(req, rules);
  let dir: string | undefined;
  try {
    const root = uploadRoot();
    await fs.promises.mkdir(root, { recursive: true });
    // Private (0700) and unique per request; removed whatever happens below.
    dir = await fs.promises.mkdtemp(path.join(root, 'vidsearch-upload-'));
    const body = await readMultipart(req, { dir, fileField: rules.fileField, maxFileBytes: rules.limits.maxBytes, maxFieldBytes: MAX_FIELD_BYTES, maxFields: rules.maxFields, onFileBytes: grow });
    return await work({ ...body, place, release });
  } finally {
    if (dir) await fs.promises.rm(dir, { recursive: true, force: true });
    // After the removal: the space is free only once the file is gone.
    release();
  }
}

/**
 * An engine error about an uploaded file, as the client's error: the status for its kind, the
 * message naming the file the client sent (not the temporary path). Branches on the error's kind,
 * never its text: a missing, broken or crashed ffmpeg (kinds tool-*) is the server's and is
 * rethrown (describeError: 503 or 500), whatever its message says.
 */
export function refuseUpload(err: unknown, file: { name: string; path: string }, statusByKind: Partial<Record<ErrorKind, number>>): never {
  const kind = errorKind(err);
  const status = kind && statusByKind[kind];
  if (status) throw new HttpError(status, `${file.name}: ${(err as Error).message.replaceAll(file.path, file.name)}`);
  throw err;
}
