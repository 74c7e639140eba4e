// `vidsearch eval` and `vidsearch export-features`: retrieval quality on a captioned set, and the
// features the transformer pooler trains on. Registered in cli.ts; same conventions (exit 0/1/2,
// --json puts only the document on stdout, progress on stderr).
import { COMMON, INDEXING, RERANKING, configFrom, parse, type Options } from './cli-args';
import type { Config } from '../services/config';
import { openEngine } from '../services/engine';
import { UsageError } from '../core/errors';
import { evaluate, readCaptions, type EvalUnit } from '../services/eval';
import { exportFeatures } from '../services/features';
import type { IndexEvent } from '../services/pipeline';

const OPTIONS: Options = { ...COMMON, ...INDEXING, captions: { type: 'string' } };

const COMMON_HELP = `  --captions FILE     JSONL, one {"path": "...", "caption": "..."} per line (paths relative to the file)
  --home DIR          data directory (VIDSEARCH_HOME, default ./data)
  --model NAME|DIR    model (VIDSEARCH_MODEL)      --variant V   fp32 | quantized | fp16
  --fps N, --segment-seconds N, --batch-size N, --threads N   as for index`;

export const EVAL_HELP = `Usage: vidsearch eval --captions <file.jsonl> [--pooling mean|transformer] [--rerank|--no-rerank] [--by video|segment] [--json]

Text-to-video retrieval quality, the CLIP4Clip protocol (MSR-VTT 1k-A: one caption per video; each
caption is a query against all listed videos): R@1, R@5, R@10 (%), median and mean rank. The listed
videos are indexed first (unchanged ones are reused), then scored exactly (no approximate index).

Options:
${COMMON_HELP}
  --pooling P         mean | transformer (VIDSEARCH_POOLING); --pooler FILE the pooler.onnx
  --rerank, --no-rerank  query-adaptive scoring (VIDSEARCH_RERANK, default on)
  --rerank-tau T      its softmax temperature on cosine similarities (VIDSEARCH_RERANK_TAU, default 0.1)
  --by video|segment  score whole videos (default, as CLIP4Clip) or each video's best segment (as search)
  --json              print the report, with every caption's rank

Exit status: 0 done (also when some videos could not be indexed: they are listed), 1 error, 2 usage.`;

export const EXPORT_FEATURES_HELP = `Usage: vidsearch export-features --captions <file.jsonl> --out <dir> [--json]

Indexes (or reuses) the captioned videos and writes their frame vectors and the text vectors of
their captions to <dir> (features.json, frames.f32, texts.f32: format in indexer/services/features.ts), for
training the transformer pooler: /usr/bin/python3 models/pooler/train.py --features <dir> ...

Options:
${COMMON_HELP}
  --out DIR           where to write the features
  --json              print {"out","videos","frames","captions","dim","excluded"}`;

function parseQuality(args: string[], extra: Options) {
  return parse(args, { ...OPTIONS, ...extra }, { positionals: false });
}

function configOf(values: Record<string, unknown>): Config {
  if (values['no-rerank'] && values.rerank) throw new UsageError('give --rerank or --no-rerank, not both');
  return configFrom(values);
}

function progress(): (e: IndexEvent) => void {
  if (!process.stderr.isTTY) return () => {};
  return (e) => {
    if (e.type === 'start') process.stderr.write(`\r\x1b[2Kindexing ${e.index + 1}/${e.files}`);
    if (e.type === 'done' && e.index + 1 === e.files) process.stderr.write('\r\x1b[2K');
  };
}

const out = (s: string) => process.stdout.write(s + '\n');

export async function cmdEval(args: string[]): Promise<number> {
  const { values } = parseQuality(args, { ...RERANKING, by: { type: 'string' } });
  if (values.help) return out(EVAL_HELP), 0;
  if (!values.captions) throw new UsageError('eval needs --captions <file.jsonl>');
  const by = (values.by ?? 'video') as EvalUnit;
  if (by !== 'video' && by !== 'segment') throw new UsageError(`--by takes video or segment, got "${values.by}"`);
  const cfg = configOf(values);
  const items = readCaptions(values.captions as string);
  const engine = await openEngine(cfg, { writer: true });
  try {
    const r = await evaluate(engine, items, { by, onEvent: progress() });
    if (values.json) {
      out(JSON.stringify(r, null, 2));
      return 0;
    }
    const m = r.metrics;
    out(`${r.captions} captions, ${r.videos} videos; ${r.pooling} pooling, re-ranking ${r.rerank.enabled ? `on (τ ${r.rerank.temperature})` : 'off'}, by ${r.by}`);
    out(`R@1 ${m.R1.toFixed(1)}  R@5 ${m.R5.toFixed(1)}  R@10 ${m.R10.toFixed(1)}  median rank ${m.medianRank}  mean rank ${m.meanRank.toFixed(1)}`);
    for (const e of r.excluded) out(`  left out (not indexed): ${e.path}: ${e.reason}`);
    return 0;
  } finally {
    await engine.close();
  }
}

export async function cmdExportFeatures(args: string[]): Promise<number> {
  const { values } = parseQuality(args, { out: { type: 'string' } });
  if (values.help) return out(EXPORT_FEATURES_HELP), 0;
  if (!values.captions) throw new UsageError('export-features needs --captions <file.jsonl>');
  if (!values.out) throw new UsageError('export-features needs --out <dir>');
  const items = readCaptions(values.captions as string);
  const engine = await openEngine(configOf(values), { writer: true });
  try {
    const r = await exportFeatures(engine, items, values.out as string, { onEvent: progress() });
    if (values.json) out(JSON.stringify(r, null, 2));
    else {
      out(`wrote ${r.videos} videos (${r.frames} frames) and ${r.captions} captions, ${r.dim}-d, to ${r.out}`);
      for (const e of r.excluded) out(`  left out (not indexed): ${e.path}: ${e.reason}`);
    }
    return r.videos > 0 ? 0 : 1;
  } finally {
    await engine.close();
  }
}
