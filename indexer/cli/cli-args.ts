// Flag parsing shared by the commands of cli.ts and cli-quality.ts: the option sets, the parser
// (its errors as usage errors) and flags → Config (config.ts then applies environment and defaults).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveConfig, type Config, type ConfigInput } from '../services/config';
import { UsageError, errorMessage } from '../core/errors';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON: Options = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  home: { type: 'string' },
  model: { type: 'string' },
  variant: { type: 'string' },
  threads: { type: 'string' },
};

export const INDEXING: Options = {
  fps: { type: 'string' },
  'segment-seconds': { type: 'string' },
  'batch-size': { type: 'string' },
  pooling: { type: 'string' },
  pooler: { type: 'string' },
};

export const RERANKING: Options = {
  rerank: { type: 'boolean' },
  'no-rerank': { type: 'boolean' },
  'rerank-tau': { type: 'string' },
};

export function parse(args: string[], options: Options, { positionals = true } = {}) {
  try {
    return parseArgs({ args, options, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw new UsageError(errorMessage(err).replace(/\. To specify a positional argument.*$/, ''), { cause: { args } });
  }
}

export function configFrom(values: Record<string, unknown>): Config {
  const flags: ConfigInput = {
    home: values.home as string | undefined,
    model: values.model as string | undefined,
    variant: values.variant as string | undefined,
    threads: values.threads as string | undefined,
    fps: values.fps as string | undefined,
    segmentSeconds: values['segment-seconds'] as string | undefined,
    batchSize: values['batch-size'] as string | undefined,
    pooling: values.pooling as string | undefined,
    pooler: values.pooler as string | undefined,
    rerank: values['no-rerank'] ? false : values.rerank ? true : undefined,
    rerankTemperature: values['rerank-tau'] as string | undefined,
  };
  return resolveConfig(flags);
}
