// Text → token ids for the text encoder, through any tokenizer.json (@huggingface/tokenizers), or,
// for CLIP's, through its prepared table (bpe-table.ts, core/clip-bpe.ts): the same ids without
// building the library's maps, which was most of a one-query CLI search's start.
import { Tokenizer } from '@huggingface/tokenizers';
import { ClipBpe } from '../../core/clip-bpe';
import type { BpeTable } from './bpe-table';

export interface TokenBatch {
  ids: BigInt64Array;
  mask: BigInt64Array;
  batch: number;
  length: number;
}

export class TextTokenizer {
  readonly padId: number;
  readonly eosId: number | undefined;
  private lib: Tokenizer | undefined;
  private readonly clip: ClipBpe | undefined;

  /**
   * `tokenizerJson` is the parsed tokenizer.json, or a function that reads it: with a `table`, the
   * library is built only for a text the table leaves to it (one naming a special token).
   */
  constructor(
    private readonly tokenizerJson: object | (() => object),
    private readonly tokenizerConfig: Record<string, unknown>,
    readonly contextLength: number,
    table?: BpeTable,
  ) {
    this.clip = table ? new ClipBpe(table, table.specials) : undefined;
    const tokenName = (v: unknown) => (typeof v === 'string' ? v : (v as { content?: string } | undefined)?.content);
    const id = (t: string) => (this.clip ? this.clip.tokenId(t) : this.library().token_to_id(t));
    const eos = tokenName(tokenizerConfig.eos_token);
    this.eosId = eos === undefined ? undefined : id(eos);
    const pad = tokenName(tokenizerConfig.pad_token);
    this.padId = (pad === undefined ? undefined : id(pad)) ?? this.eosId ?? 0;
  }

  private library(): Tokenizer {
    if (!this.lib) {
      const json = typeof this.tokenizerJson === 'function' ? this.tokenizerJson() : this.tokenizerJson;
      this.lib = new Tokenizer(json, this.tokenizerConfig);
    }
    return this.lib;
  }

  /** Token ids with the special tokens, truncated to the context length keeping the end token. */
  encode(text: string): number[] {
    const ids = this.clip?.encode(text) ?? this.library().encode(text).ids;
    if (ids.length <= this.contextLength) return ids;
    const cut = ids.slice(0, this.contextLength);
    // CLIP pools at the end-of-text token: a truncated prompt must still end with it.
    if (this.eosId !== undefined && ids[ids.length - 1] === this.eosId) cut[cut.length - 1] = this.eosId;
    return cut;
  }

  /**
   * Pads to the longest sequence in the batch, not to the context length: the text encoder is
   * causal and pools at the end token, so padding past it is wasted compute.
   */
  batch(texts: string[]): TokenBatch {
    const seqs = texts.map((t) => this.encode(t));
    const length = Math.max(1, ...seqs.map((s) => s.length));
    const ids = new BigInt64Array(texts.length * length).fill(BigInt(this.padId));
    const mask = new BigInt64Array(texts.length * length);
    seqs.forEach((seq, b) => {
      seq.forEach((id, i) => {
        ids[b * length + i] = BigInt(id);
        mask[b * length + i] = 1n;
      });
    });
    return { ids, mask, batch: texts.length, length };
  }
}
