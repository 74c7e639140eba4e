// Serving a file over HTTP: its media type, byte ranges (RFC 9110 §14), and a body that streams
// from disk with backpressure, so memory stays flat whatever the file's size.
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.qt': 'video/quicktime',
  '.mkv': 'video/x-matroska',
  '.webm': 'video/webm',
  '.avi': 'video/x-msvideo',
  '.wmv': 'video/x-ms-wmv',
  '.flv': 'video/x-flv',
  '.mpg': 'video/mpeg',
  '.mpeg': 'video/mpeg',
  '.ts': 'video/mp2t',
  '.mts': 'video/mp2t',
  '.m2ts': 'video/mp2t',
  '.3gp': 'video/3gpp',
  '.ogv': 'video/ogg',
};

export function contentType(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export type ByteRange = { start: number; end: number };

/**
 * The part of a `size`-byte file that a Range header asks for: 'full' for no header or one to
 * ignore, a range (end inclusive), or 'unsatisfiable' (416).
 *
 * A header that is not a single well-formed `bytes=` range (another unit, garbage, "bytes=5-2") is
 * ignored and the whole file sent, as RFC 9110 allows; a client that sent garbage can still play the
 * file. Several ranges are answered with the whole file too: players ask for one range at a time,
 * and multipart/byteranges would buy nothing here.
 */
export function parseRange(header: string | null, size: number): ByteRange | 'full' | 'unsatisfiable' {
  if (!header) return 'full';
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return 'full';
  if (m[1] === '') {
    // suffix: the last n bytes
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? Infinity : Number(m[2]);
  if (last < start) return 'full';
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(last, size - 1) };
}

/**
 * A web stream over the open file `handle` from `start` to `end` inclusive; the stream owns the
 * handle and closes it at the end, on an error, or when the client goes away (cancel). Reading from
 * the handle, not a path, means the bytes sent are those of the file that was checked (library.ts).
 * Each pull reads one chunk, so a slow client holds back the disk instead of filling memory. Not
 * Readable.toWeb: its default queue has been counted in chunks rather than bytes on some Node
 * versions (nodejs/node#46347, #47128), which lets it read far ahead of the client.
 */
export function fileBody(handle: FileHandle, { start, end }: ByteRange): ReadableStream<Uint8Array> {
  const stream = handle.createReadStream({ start, end, highWaterMark: 256 * 1024, autoClose: true });
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel() {
        stream.destroy();
      },
    },
    { highWaterMark: 1 },
  );
}
