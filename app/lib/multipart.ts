// A multipart/form-data body read as a stream: fields into memory (small, limited), the one file
// straight to disk, counted as it arrives. Nothing holds the whole upload in memory (Request's
// formData() would), and a file over the limit stops the upload at the limit, not at its end.
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import busboy from 'busboy';
import { HttpError } from '@/app/lib/http';

export interface UploadedFile {
  /** where it was written: UPLOAD_NAME inside the caller's directory */
  path: string;
  /** the client's file name, without any directories (for messages and the answer) */
  name: string;
  bytes: number;
}

export interface MultipartBody {
  fields: Map<string, string[]>;
  file?: UploadedFile;
}

export interface MultipartLimits {
  /** the directory the file goes to; the caller creates it and removes it */
  dir: string;
  /** the field that holds the file */
  fileField: string;
  maxFileBytes: number;
  maxFieldBytes: number;
  maxFields: number;
  /** Told the file's size as it grows; throwing an HttpError stops the upload with it. */
  onFileBytes?: (bytes: number) => void;
}

/**
 * The name every upload is written under, never the client's: ffmpeg picks a demuxer partly by
 * the file's extension, so a client-chosen ".m3u8" or ".ffconcat" would choose how the file is
 * read. Without one, ffmpeg goes by the content alone (checked: mp4, mov, 3gp, m4v, mkv, webm,
 * avi, flv, ogg, mpeg-ps, mpeg-ts, asf, mxf, nut and raw h264 are all recognised).
 */
export const UPLOAD_NAME = 'upload';

/**
 * After an error the rest of the body is left unread and the connection closed: reading on
 * would take the whole upload in, and cancelling the body would reset the socket before the
 * answer is written.
 */
export const CLOSE = { Connection: 'close' };

export function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `the upload is too large: at most ${formatMb(maxBytes)} (VIDSEARCH_UPLOAD_MAX_MB)`, CLOSE);
}

function formatMb(bytes: number): string {
  const mb = bytes / 1024 / 1024;
  return mb >= 1 ? `${Math.round(mb * 10) / 10} MB` : `${bytes} bytes`;
}

/** The base name of a client-given file name: no directories, no control characters. */
export function safeFileName(name: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  const base = (name ?? '').split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return base.slice(0, 255) || 'upload';
}

export async function readMultipart(req: Request, limits: MultipartLimits): Promise<MultipartBody> {
  if (!req.body) throw new HttpError(400, 'the request has no body: send the clip in a multipart "file" field');
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { 'content-type': req.headers.get('content-type') ?? '' },
      // RFC 7578 file names are UTF-8 (browsers and curl send them so); busboy's default is latin1.
      defParamCharset: 'utf8',
      limits: { files: 1, fileSize: limits.maxFileBytes, fields: limits.maxFields, fieldSize: limits.maxFieldBytes, parts: limits.maxFields + 1, fieldNameSize: 100 },
    });
  } catch (err) {
    throw new HttpError(400, `malformed multipart request: ${(err as Error).message}`);
  }
  const source = Readable.fromWeb(req.body as NodeWebStream<Uint8Array>);
  const fields = new Map<string, string[]>();
  let file: UploadedFile | undefined;
  let writing: Promise<void> = Promise.resolve();
  let problem: HttpError | undefined;

  // Stops reading the body (see CLOSE) and ends the parser, which ends the file being written.
  const stop = (err: HttpError) => {
    if (problem) return;
    problem = err;
    source.unpipe(parser);
    source.pause();
    // Not from inside the parser's own event (it goes on using the file stream it emitted).
    process.nextTick(() => parser.destroy(err));
  };

  parser.on('field', (name, value, info) => {
    if (info.valueTruncated) return stop(new HttpError(413, `the field "${name}" is too long (at most ${formatMb(limits.maxFieldBytes)})`, CLOSE));
    fields.set(name, [...(fields.get(name) ?? []), value]);
  });
  parser.on('file', (name, stream, info) => {
    if (name !== limits.fileField) {
      // Destroying the parser destroys this stream too, with the error: heard here, reported below.
      stream.on('error', () => {});
      stream.resume();
      return stop(new HttpError(400, `unexpected file field "${name}": send the clip as "${limits.fileField}"`, CLOSE));
    }
    const upload: UploadedFile = { path: path.join(limits.dir, UPLOAD_NAME), name: safeFileName(info.filename), bytes: 0 };
    file = upload;
    stream.on('limit', () => stop(tooLarge(limits.maxFileBytes)));
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        upload.bytes += chunk.length;
        try {
          limits.onFileBytes?.(upload.bytes);
        } catch (err) {
          if ((err as Error).name !== 'HttpError') return done(err as Error);
          // Not written: the chunk would take space the check just refused.
          stop(err as HttpError);
          return done();
        }
        done(null, chunk);
      },
    });
    writing = pipeline(stream, count, fs.createWriteStream(upload.path, { flags: 'wx', mode: 0o600 }));
  });
  // Errors after the first are the same failure, already reported.
  parser.on('error', () => {});
  parser.on('filesLimit', () => stop(new HttpError(400, `send one file, in the "${limits.fileField}" field`, CLOSE)));
  parser.on('fieldsLimit', () => stop(new HttpError(400, `too many fields (at most ${limits.maxFields})`, CLOSE)));
  parser.on('partsLimit', () => stop(new HttpError(400, `too many parts (at most ${limits.maxFields + 1})`, CLOSE)));

  try {
    // pipe(), not pipeline(): after stop() the body must stay open (see CLOSE), and pipeline()
    // would destroy it on the parser's error.
    await new Promise<void>((resolve, reject) => {
      source.once('error', (err) => {
        parser.destroy(err);
        reject(err);
      });
      parser.once('error', reject);
      parser.once('close', () => resolve());
      source.pipe(parser);
    });
  } catch (err) {
    if (problem) throw problem;
    // The client went away, or the body is not the multipart it says it is.
    if (req.signal.aborted || (err as Error).name === 'AbortError') throw err;
    throw new HttpError(400, `malformed or interrupted multipart upload: ${(err as Error).message}`, CLOSE);
  } finally {
    // The file is closed (written or abandoned) before the caller removes its directory.
    const written = await writing.then(
      () => undefined,
      (err: Error) => err,
    );
    if (written && !problem) problem = new HttpError(500, `could not write the upload: ${written.message}`);
  }
  if (problem) throw problem;
  return { fields, file };
}
