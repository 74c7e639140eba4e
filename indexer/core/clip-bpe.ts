// CLIP's text tokenizer as pure rules: normalize, split into words, byte-level characters, BPE
// merges with an end-of-word suffix, then the start and end tokens. The same steps as
// @huggingface/tokenizers runs for CLIP's tokenizer.json, over vocabulary and merge lookups given
// by the caller, so that they can be a prepared table read in a millisecond (io/onnx/bpe-table.ts)
// instead of the library's maps, which cost a one-query CLI search ~140 ms to build from the
// 1.6 MB file (npm run bench -- --only=cli). Only a tokenizer.json whose pipeline is exactly
// CLIP's (clipShape) is run here; anything else, and any text naming a special token, goes to the
// library. test/model.test.ts holds both to CLIP's reference ids and to the library.

/** Token and merge lookups (a merge's rank is its position in the merges list). */
export interface BpeLookups {
  id(token: string): number | undefined;
  rank(left: string, right: string): number | undefined;
}

/** What a CLIP tokenizer.json adds around the BPE tables. */
export interface ClipSpecials {
  /** the start and end tokens the post-processor wraps every text in */
  cls: string;
  sep: string;
  unk: string | null;
  /** added tokens' contents: a text holding one is left to the full library */
  added: string[];
}

// The sections of CLIP's tokenizer.json (openai/clip-vit-base-patch32, as the Hugging Face
// exports ship it) that this file implements. Compared exactly: any difference means another
// pipeline, run by the library.
const CLIP_NORMALIZER = {
  type: 'Sequence',
  normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
};
const CLIP_PRE_TOKENIZER = {
  type: 'Sequence',
  pretokenizers: [
    {
      type: 'Split',
      pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
      behavior: 'Removed',
      invert: true,
    },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ],
};
// The library's rewrite of the patterns above (\s is Unicode White_Space there, not JavaScript's \s).
const WHITESPACE = /\p{White_Space}+/gu;
const WORDS = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\p{White_Space}\p{L}\p{N}]+/gu;
const SUFFIX = '</w>';

const canonical = (v: unknown) => JSON.stringify(v);

/**
 * The specials of a tokenizer.json (parsed) whose pipeline is CLIP's, or undefined when it is
 * anything else. `config` is tokenizer_config.json, whose remove_space and
 * do_lowercase_and_remove_accent would change the library's pipeline.
 */
export function clipShape(json: any, config: Record<string, unknown> = {}): ClipSpecials | undefined {
  const m = json?.model;
  if (!m || m.type !== 'BPE' || m.end_of_word_suffix !== SUFFIX || m.byte_fallback || m.ignore_merges || m.dropout) return undefined;
  if (m.continuing_subword_suffix || m.continuing_subword_prefix) return undefined;
  if (config.remove_space === true || config.do_lowercase_and_remove_accent) return undefined;
  if (canonical(json.normalizer) !== canonical(CLIP_NORMALIZER) || canonical(json.pre_tokenizer) !== canonical(CLIP_PRE_TOKENIZER)) return undefined;
  const post = json.post_processor;
  if (post?.type !== 'RobertaProcessing' || typeof post.cls?.[0] !== 'string' || typeof post.sep?.[0] !== 'string') return undefined;
  if (!Array.isArray(m.merges) || typeof m.vocab !== 'object') return undefined;
  const added = (json.added_tokens ?? []).map((t: { content?: unknown }) => t.content);
  if (!added.every((c: unknown) => typeof c === 'string' && c.length > 0)) return undefined;
  return { cls: post.cls[0], sep: post.sep[0], unk: typeof m.unk_token === 'string' ? m.unk_token : null, added };
}

/** GPT-2's byte → printable character table, which byte-level BPE vocabularies are written in. */
const BYTE_CHARS: string[] = (() => {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const out = new Array<string>(256);
  for (const b of keep) out[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (out[b] === undefined) out[b] = String.fromCharCode(256 + n++);
  return out;
})();

const utf8 = new TextEncoder();

export class ClipBpe {
  private readonly cache = new Map<string, number[]>();
  private readonly clsId: number;
  private readonly sepId: number;
  private readonly unkId: number | undefined;

  constructor(
    private readonly lookups: BpeLookups,
    private readonly specials: ClipSpecials,
  ) {
    this.unkId = specials.unk === null ? undefined : lookups.id(specials.unk);
    const id = (t: string) => lookups.id(t) ?? this.unkId;
    const cls = id(specials.cls);
    const sep = id(specials.sep);
    if (cls === undefined || sep === undefined) throw new Error(`the vocabulary has no id for ${specials.cls} or ${specials.sep}`);
    this.clsId = cls;
    this.sepId = sep;
  }

  tokenId(token: string): number | undefined {
    return this.lookups.id(token);
  }

  /** Token ids with the start and end tokens; undefined for a text that names an added token. */
  encode(text: string): number[] | undefined {
    if (this.names(text)) return undefined;
    const normalized = text.normalize('NFC').replace(WHITESPACE, ' ').toLowerCase();
    if (this.names(normalized)) return undefined;
    const ids = [this.clsId];
    for (const word of normalized.match(WORDS) ?? []) {
      if (!word) continue;
      for (const id of this.word(word)) ids.push(id);
    }
    ids.push(this.sepId);
    return ids;
  }

  private names(text: string): boolean {
    return this.specials.added.some((a) => text.includes(a));
  }

  /** One word's ids: its UTF-8 bytes as characters, merged pair by pair, lowest rank first. */
  private word(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    let chars = '';
    for (const b of utf8.encode(word)) chars += BYTE_CHARS[b];
    const parts = Array.from(chars);
    parts[parts.length - 1] += SUFFIX;
    // The library's priority queue takes the lowest rank, the leftmost pair on a tie: the same
    // order as this scan, which is cheaper for words of a few characters.
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = this.lookups.rank(parts[i]!, parts[i + 1]!);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best]! + parts[best + 1]!);
    }
    const ids: number[] = [];
    for (const p of parts) {
      const id = this.lookups.id(p) ?? this.unkId;
      if (id !== undefined) ids.push(id);
    }
    if (this.cache.size < 10_000) this.cache.set(word, ids);
    return ids;
  }
}
