// Option tables: each flag stated once (name, type, value name, description, environment
// variable, default, allowed values), and from the table both the node:util parseArgs config and
// the help text, so that the help cannot drift from the parser. Also the shared tables (the
// configuration, indexing and re-ranking flags) and flags → Config (config.ts then applies the
// environment and the defaults).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveConfig, DEFAULT_MODEL, DEFAULT_SEGMENT_SECONDS, type Config, type ConfigInput } from '../services/config';
import { UsageError, errorMessage } from '../core/errors';
import { MODEL_VARIANTS, POOLINGS } from '../core/types';
import { DEFAULT_RERANK_TEMPERATURE } from '../core/rerank';

export interface OptionSpec {
  type: 'boolean' | 'string';
  short?: string;
  /** the value's name in the help: N, DIR, FILE (string options) */
  value?: string;
  /** what it does; '\n' starts a new line, long lines are wrapped */
  help: string;
  /** the environment variable that sets it when the flag is not given */
  env?: string;
  /** the values it takes, as the help shows them: "1-200" */
  range?: string;
  /** the default, as the help shows it */
  default?: string;
  /** the values it takes: shown first in the help ("a | b | c: ...") */
  choices?: readonly string[];
  /** refuse any other value ("--x takes a, b, c; got "y""): 'one' value, or a comma-separated 'list' */
  check?: 'one' | 'list';
  /** parsed but not listed (its meaning is told by another option's text) */
  hidden?: boolean;
}

export type OptionTable = Record<string, OptionSpec>;

/** A titled group of options in a help text. */
export interface OptionGroup {
  title: string;
  options: OptionTable;
  /** lines after the options (environment variables without a flag) */
  notes?: string[];
}

export const HELP_OPTION: OptionTable = { help: { type: 'boolean', short: 'h', help: 'this help', hidden: true } };

/** The data directory and model: every command that opens the data directory takes them. */
export const CONFIG: OptionTable = {
  home: { type: 'string', value: 'DIR', help: 'data directory', env: 'VIDSEARCH_HOME', default: './data' },
  model: { type: 'string', value: 'NAME|DIR', help: 'model name under models/ or a model folder', env: 'VIDSEARCH_MODEL', default: DEFAULT_MODEL },
  variant: { type: 'string', value: 'V', choices: MODEL_VARIANTS, help: '', env: 'VIDSEARCH_VARIANT', default: 'fp32' },
  threads: { type: 'string', value: 'N', help: 'inference threads', env: 'VIDSEARCH_THREADS', default: 'all cores' },
};

export const CONFIG_GROUP: OptionGroup = {
  title: 'Configuration (flags, then environment, then defaults):',
  options: CONFIG,
  notes: ['DATABASE_URL        SQLite "file:" URL (default: vidsearch.db in the data directory), or postgresql://… for PostgreSQL + pgvector'],
};

export const INDEXING: OptionTable = {
  fps: { type: 'string', value: 'N', help: 'frames sampled per second', env: 'VIDSEARCH_FPS', default: '1' },
  'segment-seconds': { type: 'string', value: 'N', help: 'segment length', env: 'VIDSEARCH_SEGMENT_SECONDS', default: String(DEFAULT_SEGMENT_SECONDS) },
  'batch-size': { type: 'string', value: 'N', help: 'images per inference call', env: 'VIDSEARCH_BATCH_SIZE', default: '16' },
  pooling: { type: 'string', value: 'P', choices: POOLINGS, help: 'how frame vectors become segment vectors', env: 'VIDSEARCH_POOLING', default: 'mean' },
  pooler: { type: 'string', value: 'FILE', help: 'the transformer pooler', env: 'VIDSEARCH_POOLER', default: '<model folder>/pooler.onnx' },
};

export const RERANKING: OptionTable = {
  rerank: { type: 'boolean', help: 'query-adaptive re-ranking of the candidates (on unless VIDSEARCH_RERANK=0)' },
  'no-rerank': { type: 'boolean', help: 'rank by the pooled segment vectors only, without query-adaptive re-ranking of the candidates', env: 'VIDSEARCH_RERANK=0' },
  'rerank-tau': { type: 'string', value: 'T', help: 'the re-ranking softmax temperature on cosine similarities', env: 'VIDSEARCH_RERANK_TAU', default: String(DEFAULT_RERANK_TEMPERATURE) },
};

/** `--json` with what it prints. */
export const json = (prints: string): OptionTable => ({ json: { type: 'boolean', help: `print ${prints} on stdout` } });

/** The parseArgs options of some tables. */
export function parserOptions(...tables: OptionTable[]): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const table of tables) for (const [name, o] of Object.entries(table)) options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  return options;
}

const FLAG_COLUMN = 20;
const WIDTH = 100;

function wrap(text: string, indent: number, first: number): string[] {
  const lines: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    let room = (lines.length ? WIDTH - indent : WIDTH - first) - 1;
    for (const word of para.split(' ')) {
      if (line && line.length + 1 + word.length > room) {
        lines.push(line);
        line = word;
        room = WIDTH - indent - 1;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines;
}

/** One option's help line(s): "  --name VALUE      choices: description (ENV, default D)". */
export function optionLines(name: string, o: OptionSpec): string[] {
  const flag = `--${name}${o.value ? ` ${o.value}` : ''}`;
  const about = [o.env, o.range, o.default !== undefined ? `default ${o.default}` : undefined].filter(Boolean).join(', ');
  const text = [o.choices?.join(' | '), o.help].filter(Boolean).join(': ') + (about ? ` (${about})` : '');
  const head = `  ${flag.padEnd(FLAG_COLUMN - 1)} `;
  const body = wrap(text, 2 + FLAG_COLUMN, head.length);
  return [head + body[0], ...body.slice(1).map((l) => ' '.repeat(2 + FLAG_COLUMN) + l)];
}

/** The help lines of a table (hidden options left out). */
export function tableHelp(table: OptionTable): string {
  return Object.entries(table)
    .filter(([, o]) => !o.hidden)
    .flatMap(([name, o]) => optionLines(name, o))
    .join('\n');
}

export function groupHelp(group: OptionGroup): string {
  return [group.title, tableHelp(group.options), ...(group.notes ?? []).map((n) => `  ${n}`)].filter(Boolean).join('\n');
}

/** Parses `args` by the tables; parser errors and values outside an option's checked choices are usage errors. */
export function parse(args: string[], tables: OptionTable[], { positionals = true } = {}) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: parserOptions(HELP_OPTION, ...tables), allowPositionals: positionals, strict: true });
  } catch (err) {
    throw new UsageError(errorMessage(err).replace(/\. To specify a positional argument.*$/, ''), { cause: { args } });
  }
  for (const table of tables) {
    for (const [name, o] of Object.entries(table)) {
      const v = parsed.values[name];
      if (!o.check || !o.choices || typeof v !== 'string') continue;
      for (const one of o.check === 'list' ? v.split(',').map((x) => x.trim()) : [v]) {
        if (!o.choices.includes(one)) throw new UsageError(`--${name} takes ${o.choices.join(', ')}; got "${one}"`, { cause: { option: name, value: one } });
      }
    }
  }
  return parsed;
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

/** An integer flag of at least `min` (undefined when not given); a usage error otherwise. */
export function intFlag(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer of at least ${min}, got "${v}"`);
  return n;
}
