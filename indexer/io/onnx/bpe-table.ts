// A CLIP tokenizer's vocabulary and merge ranks as one prepared file in the data directory, read
// and used where it lies: two open-addressing hash tables over the tokens' UTF-16 code units, so a
// process needs no Map of 49,408 tokens and 48,894 merges (building those from tokenizer.json is
// most of the ~140 ms a one-query CLI search spent on its tokenizer; reading this is ~5 ms with
// its checksum; npm run bench -- --only=cli). Made once per tokenizer.json, named by its sha256,
// so a changed file gets a new table, never a stale one; written to a temporary name and renamed.
// The file carries the sha256 of its contents: a damaged table is remade, never used.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { clipShape, type BpeLookups, type ClipSpecials } from '../../core/clip-bpe';

const MAGIC = 0x31455042; // "BPE1"
const VERSION = 1;
const SUM_BYTES = 32;
const HEADER_INTS = 8;
const EMPTY = -1;
const SPACE = 32;

interface Meta extends ClipSpecials {
  /** the tokenizer.json it was made from, to find the table a changed file leaves behind */
  source: string;
}

function slotsFor(n: number): number {
  let s = 1024;
  while (s < n * 2) s *= 2;
  return s;
}

/** FNV-1a over the code units of `a`, then (for a merge) a space and `b`. */
function hash(a: string, b?: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a.charCodeAt(i), 0x01000193);
  if (b !== undefined) {
    h = Math.imul(h ^ SPACE, 0x01000193);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

/** The table of a CLIP-shaped tokenizer.json (parsed), or undefined for any other pipeline. */
export function buildBpeTable(json: any, config: Record<string, unknown>, source: string): Buffer | undefined {
  const specials = clipShape(json, config);
  if (!specials) return undefined;
  const vocab = new Map<string, number>(Object.entries(json.model.vocab as Record<string, number>));
  // As the library does: added tokens take their ids over whatever the vocabulary says.
  for (const t of json.added_tokens ?? []) vocab.set(t.content, t.id);
  const merges: Array<[string, string]> = [];
  for (const m of json.model.merges as Array<string | [string, string]>) {
    const pair = Array.isArray(m) ? m : (m.split(' ', 2) as [string, string]);
    // A token with a space would make "a b" ambiguous: not a byte-level vocabulary, leave it to the library.
    if (pair.length !== 2 || pair.some((p) => typeof p !== 'string' || p.includes(' '))) return undefined;
    merges.push(pair);
  }
  let chars = 0;
  for (const k of vocab.keys()) chars += k.length;
  for (const [a, b] of merges) chars += a.length + b.length + 1;
  const text = new Uint16Array(chars);
  let at = 0;
  const put = (s: string) => {
    for (let i = 0; i < s.length; i++) text[at++] = s.charCodeAt(i);
  };
  const fill = (slots: number, entries: Iterable<[number, number, number, number]>) => {
    const t = new Int32Array(slots * 3).fill(EMPTY);
    for (const [h, start, len, value] of entries) {
      let i = h & (slots - 1);
      while (t[i * 3 + 1] !== EMPTY) i = (i + 1) & (slots - 1);
      t.set([start, len, value], i * 3);
    }
    return t;
  };
  const vocabSlots = slotsFor(vocab.size);
  const vocabTable = fill(
    vocabSlots,
    [...vocab].map(([k, v]) => {
      const start = at;
      put(k);
      return [hash(k), start, k.length, v] as [number, number, number, number];
    }),
  );
  // The first occurrence of a pair is its rank, as in the library's Map built in list order.
  const seen = new Set<string>();
  const rankEntries: Array<[number, number, number, number]> = [];
  merges.forEach(([a, b], rank) => {
    const key = `${a} ${b}`;
    if (seen.has(key)) return;
    seen.add(key);
    const start = at;
    put(key);
    rankEntries.push([hash(a, b), start, key.length, rank]);
  });
  const rankSlots = slotsFor(rankEntries.length);
  const rankTable = fill(rankSlots, rankEntries);
  const meta = Buffer.from(JSON.stringify({ ...specials, source } satisfies Meta));
  const metaPadded = Math.ceil(meta.length / 4) * 4;
  const header = Int32Array.from([MAGIC, VERSION, vocabSlots, rankSlots, at, meta.length, 0, 0]);
  const body = Buffer.concat([
    Buffer.from(header.buffer),
    meta,
    Buffer.alloc(metaPadded - meta.length),
    Buffer.from(vocabTable.buffer),
    Buffer.from(rankTable.buffer),
    Buffer.from(text.buffer, 0, at * 2),
  ]);
  return Buffer.concat([crypto.createHash('sha256').update(body).digest(), body]);
}

export interface BpeTable extends BpeLookups {
  readonly specials: ClipSpecials;
  readonly source: string;
}

/** Reads a table made by buildBpeTable; throws when it is damaged or of another version. */
export function readBpeTable(file: Buffer): BpeTable {
  if (file.length < SUM_BYTES + HEADER_INTS * 4) throw new Error('the table is truncated');
  // Typed arrays need aligned offsets: copy a buffer that does not start on one.
  const buf = file.byteOffset % 4 === 0 ? file : Buffer.from(file);
  const body = buf.subarray(SUM_BYTES);
  if (!crypto.createHash('sha256').update(body).digest().equals(buf.subarray(0, SUM_BYTES))) throw new Error('the table does not match its checksum');
  const base = buf.byteOffset + SUM_BYTES;
  const [magic, version, vocabSlots, rankSlots, chars, metaBytes] = new Int32Array(buf.buffer, base, HEADER_INTS);
  if (magic !== MAGIC || version !== VERSION) throw new Error('not a table of this version');
  let off = base + HEADER_INTS * 4;
  const meta = JSON.parse(buf.toString('utf8', off - buf.byteOffset, off - buf.byteOffset + metaBytes!)) as Meta;
  off += Math.ceil(metaBytes! / 4) * 4;
  const vocab = new Int32Array(buf.buffer, off, vocabSlots! * 3);
  off += vocabSlots! * 12;
  const ranks = new Int32Array(buf.buffer, off, rankSlots! * 3);
  off += rankSlots! * 12;
  const text = new Uint16Array(buf.buffer, off, chars!);

  const same = (start: number, s: string, from: number) => {
    for (let i = 0; i < s.length; i++) if (text[start + from + i] !== s.charCodeAt(i)) return false;
    return true;
  };
  return {
    specials: { cls: meta.cls, sep: meta.sep, unk: meta.unk, added: meta.added },
    source: meta.source,
    id(token) {
      const mask = vocabSlots! - 1;
      for (let i = hash(token) & mask; ; i = (i + 1) & mask) {
        const len = vocab[i * 3 + 1]!;
        if (len === EMPTY) return undefined;
        if (len === token.length && same(vocab[i * 3]!, token, 0)) return vocab[i * 3 + 2];
      }
    },
    rank(a, b) {
      const mask = rankSlots! - 1;
      const n = a.length + 1 + b.length;
      for (let i = hash(a, b) & mask; ; i = (i + 1) & mask) {
        const len = ranks[i * 3 + 1]!;
        if (len === EMPTY) return undefined;
        const start = ranks[i * 3]!;
        if (len === n && text[start + a.length] === SPACE && same(start, a, 0) && same(start, b, a.length + 1)) return ranks[i * 3 + 2];
      }
    },
  };
}

/**
 * The prepared table of `tokenizerFile` (sha256 `sha256`) under `cacheDir`, made if missing or
 * damaged; undefined when the tokenizer is not CLIP-shaped (the caller runs the library on the
 * parsed JSON handed back) or the table cannot be written (a read-only data directory: then it is
 * used from memory this time).
 */
export function preparedBpeTable(
  tokenizerFile: string,
  sha256: string,
  config: Record<string, unknown>,
  cacheDir: string,
  readJson: () => object,
): { table: BpeTable } | { json: object } {
  const file = path.join(cacheDir, `${sha256}.bpe`);
  try {
    return { table: readBpeTable(fs.readFileSync(file)) };
  } catch {
    // missing or damaged: (re)made below
  }
  const json = readJson();
  const built = buildBpeTable(json, config, tokenizerFile);
  if (!built) return { json };
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(tmp, built);
    fs.renameSync(tmp, file);
    // The table of the file this one replaces (a tokenizer.json updated in place) is dead weight.
    for (const name of fs.readdirSync(cacheDir)) {
      if (!name.endsWith('.bpe') || name === `${sha256}.bpe`) continue;
      try {
        if (readBpeTable(fs.readFileSync(path.join(cacheDir, name))).source === tokenizerFile) fs.rmSync(path.join(cacheDir, name), { force: true });
      } catch {
        // not one of ours, or damaged: left alone
      }
    }
  } catch {
    // Only a cache: the table is used from memory and made again next time.
    fs.rmSync(tmp, { force: true });
  }
  return { table: readBpeTable(built) };
}
