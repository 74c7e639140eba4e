// Text → token ids for the text encoder, through any tokenizer.json (@huggingface/tokenizers).
import { Tokenizer } from '@huggingface/tokenizers';

export interface TokenBatch {
  ids: BigInt64Array;
  mask: BigInt64Array;
  batch: number;
  length: number;
}

export class TextTokenizer {
  readonly padId: number;
  readonly eosId: number | undefined;
  private readonly tok: Tokenizer;

  constructor(tokenizerJson: object, tokenizerConfig: Record<string, unknown>, readonly contextLength: number) {
    this.tok = new Tokenizer(tokenizerJson, tokenizerConfig);
    const tokenName = (v: unknown) => (typeof v === 'string' ? v : (v as { content?: string } | undefined)?.content);
    const eos = tokenName(tokenizerConfig.eos_token);
    this.eosId = eos === undefined ? undefined : this.tok.token_to_id(eos);
    const pad = tokenName(tokenizerConfig.pad_token);
    this.padId = (pad === undefined ? undefined : this.tok.token_to_id(pad)) ?? this.eosId ?? 0;
  }

  /** Token ids with the special tokens, truncated to the context length keeping the end token. */
  encode(text: string): number[] {
    const ids = this.tok.encode(text).ids;
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
