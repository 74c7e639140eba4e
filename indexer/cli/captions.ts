// What `eval` and `export-features` share: the captions file option, the rerank flags check, and
// a progress line while the captioned videos are indexed.
import type { Config } from '../services/config';
import { UsageError } from '../core/errors';
import type { IndexEvent } from '../services/pipeline';
import { configFrom, type OptionTable } from './options';

export const CAPTIONS: OptionTable = {
  captions: { type: 'string', value: 'FILE', help: 'JSONL, one {"path": "...", "caption": "..."} per line (paths relative to the file)' },
};

export function configOf(values: Record<string, unknown>): Config {
  if (values['no-rerank'] && values.rerank) throw new UsageError('give --rerank or --no-rerank, not both');
  return configFrom(values);
}

export function progress(): (e: IndexEvent) => void {
  if (!process.stderr.isTTY) return () => {};
  return (e) => {
    if (e.type === 'start') process.stderr.write(`\r\x1b[2Kindexing ${e.index + 1}/${e.files}`);
    if (e.type === 'done' && e.index + 1 === e.files) process.stderr.write('\r\x1b[2K');
  };
}
