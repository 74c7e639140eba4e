// An ONNX file re-laid with its weights in a second file beside the graph (ONNX "external data").
// ONNX Runtime maps such weights into memory instead of copying each one out of the protobuf:
// ViT-B/32's 254 MB text encoder then opens in about a third of the time and memory, which is
// most of what a one-query `vidsearch search` process waits for (npm run bench -- --only=cli).
// Hugging Face ships the weights inline, so the copy is made once per file, in the data directory,
// named by the source's sha256: a changed source gets a new copy, never a stale one.
import fs from 'node:fs';
import path from 'node:path';

// onnx.proto field numbers
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const LOCATION_EXTERNAL = 1;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** Weights start on a page boundary, so each can be mapped where it lies. */
const ALIGN = 4096;
export const GRAPH_FILE = 'model.onnx';
export const WEIGHTS_FILE = 'model.weights';
/** the path of the file copied, to find the copy a changed file leaves behind */
const SOURCE_FILE = 'source.txt';

interface Field {
  field: number;
  wire: number;
  /** the whole field, tag included */
  start: number;
  end: number;
  /** a length-delimited field's payload */
  dataStart: number;
}

function varint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new Error(`not an ONNX file: a malformed number at byte ${pos}`);
}

function fields(buf: Uint8Array, start: number, end: number): Field[] {
  const out: Field[] = [];
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = varint(buf, pos);
    const wire = tag % 8;
    const field = Math.floor(tag / 8);
    let dataStart = afterTag;
    let next: number;
    if (wire === WIRE_VARINT) next = varint(buf, afterTag)[1];
    else if (wire === WIRE_FIXED64) next = afterTag + 8;
    else if (wire === WIRE_FIXED32) next = afterTag + 4;
    else if (wire === WIRE_LEN) {
      const [len, afterLen] = varint(buf, afterTag);
      dataStart = afterLen;
      next = afterLen + len;
    } else throw new Error(`not an ONNX file: wire type ${wire} at byte ${pos}`);
    if (next > end) throw new Error(`not an ONNX file: a field runs past the end at byte ${pos}`);
    out.push({ field, wire, start: pos, end: next, dataStart });
    pos = next;
  }
  return out;
}

function encodeVarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function lenField(field: number, payload: Uint8Array): Uint8Array[] {
  return [Uint8Array.from([...encodeVarint(field * 8 + WIRE_LEN), ...encodeVarint(payload.length)]), payload];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const utf8 = new TextEncoder();
function entry(key: string, value: string): Uint8Array {
  return concat([...lenField(1, utf8.encode(key)), ...lenField(2, utf8.encode(value))]);
}

/**
 * The graph of `model` with every initializer of at least `minBytes` raw bytes moved out, in file
 * order, into `weights` (called with each payload and the offset it must be written at).
 */
export function externalize(model: Uint8Array, minBytes: number, weights: (payload: Uint8Array, offset: number) => void): Uint8Array {
  let offset = 0;
  const tensor = (t: Uint8Array): Uint8Array => {
    const fs_ = fields(t, 0, t.length);
    const raw = fs_.find((f) => f.field === TENSOR_RAW_DATA && f.wire === WIRE_LEN);
    if (!raw || raw.end - raw.dataStart < minBytes || fs_.some((f) => f.field === TENSOR_DATA_LOCATION)) return t;
    const payload = t.subarray(raw.dataStart, raw.end);
    offset = Math.ceil(offset / ALIGN) * ALIGN;
    weights(payload, offset);
    const parts = fs_.filter((f) => f !== raw).map((f) => t.subarray(f.start, f.end));
    for (const [k, v] of [['location', WEIGHTS_FILE], ['offset', String(offset)], ['length', String(payload.length)]] as const) parts.push(...lenField(TENSOR_EXTERNAL_DATA, entry(k, v)));
    parts.push(Uint8Array.from([...encodeVarint(TENSOR_DATA_LOCATION * 8 + WIRE_VARINT), LOCATION_EXTERNAL]));
    offset += payload.length;
    return concat(parts);
  };
  const rewrite = (buf: Uint8Array, start: number, end: number, field: number, inner: (b: Uint8Array) => Uint8Array): Uint8Array => {
    const parts: Uint8Array[] = [];
    for (const f of fields(buf, start, end)) {
      if (f.field === field && f.wire === WIRE_LEN) parts.push(...lenField(field, inner(buf.subarray(f.dataStart, f.end))));
      else parts.push(buf.subarray(f.start, f.end));
    }
    return concat(parts);
  };
  const out = rewrite(model, 0, model.length, MODEL_GRAPH, (g) => rewrite(g, 0, g.length, GRAPH_INITIALIZER, tensor));
  if (offset === 0) throw new Error('the model holds no weights to map');
  return out;
}

/**
 * The folder of the mapped copy of `source` (sha256 `sha256`) under `cacheDir`, made if missing.
 * Made in a temporary folder and renamed into place, so a crash or a full disk leaves no half
 * copy, and two processes making it at once both end with the same one.
 */
export function mappedCopy(source: string, sha256: string, cacheDir: string, minBytes = 1024): string {
  const dir = path.join(cacheDir, sha256);
  if (fs.existsSync(path.join(dir, GRAPH_FILE))) return dir;
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cacheDir, `.${sha256.slice(0, 12)}-`));
  try {
    const fd = fs.openSync(path.join(tmp, WEIGHTS_FILE), 'w');
    let graph: Uint8Array;
    try {
      graph = externalize(fs.readFileSync(source), minBytes, (payload, offset) => {
        fs.writeSync(fd, payload, 0, payload.length, offset);
      });
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.writeFileSync(path.join(tmp, SOURCE_FILE), source);
    fs.writeFileSync(path.join(tmp, GRAPH_FILE), graph);
    // The copy of the file this one replaces (a model updated in place) is dead weight.
    for (const name of fs.readdirSync(cacheDir)) {
      const other = path.join(cacheDir, name);
      if (name.startsWith('.') || name === sha256) continue;
      let copied: string | undefined;
      try {
        copied = fs.readFileSync(path.join(other, SOURCE_FILE), 'utf8');
      } catch {
        continue; // not a copy of ours
      }
      if (copied === source) fs.rmSync(other, { recursive: true, force: true });
    }
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // Another process renamed its copy first: same source, same bytes.
      if (!fs.existsSync(path.join(dir, GRAPH_FILE))) throw err;
    }
    return dir;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

