// `vidsearch eval`: text-to-video retrieval quality on a captioned set (exit 0 done, 1 error, 2 usage).
import { openEngine } from '../services/engine';
import { UsageError } from '../core/errors';
import { orList } from '../core/types';
import { EVAL_UNITS, evaluate, readCaptions, type EvalUnit } from '../services/eval';
import { CONFIG_GROUP, INDEXING, RERANKING, json } from './options';
import { out, parseCommand, type Command } from './command';
import { CAPTIONS, configOf, progress } from './captions';

export const evalCommand: Command = {
  name: 'eval',
  summary: ['vidsearch eval --captions F', 'retrieval quality (R@1/5/10) on captioned videos'],
  usage: `Usage: vidsearch eval --captions <file.jsonl> [--pooling ${INDEXING.pooling.choices!.join('|')}] [--rerank|--no-rerank] [--by ${EVAL_UNITS.join('|')}] [--json]`,
  about: `Text-to-video retrieval quality, the CLIP4Clip protocol (MSR-VTT 1k-A: one caption per video; each
caption is a query against all listed videos): R@1, R@5, R@10 (%), median and mean rank. The listed
videos are indexed first (unchanged ones are reused), then scored exactly (no approximate index).`,
  options: [
    CAPTIONS,
    {
      by: { type: 'string', value: 'U', choices: EVAL_UNITS, help: 'score whole videos (as CLIP4Clip) or each video\'s best segment (as search)', default: EVAL_UNITS[0] },
      ...json('the report, with every caption\'s rank,'),
    },
    RERANKING,
    INDEXING,
  ],
  groups: [CONFIG_GROUP],
  positionals: false,
  footer: 'Exit status: 0 done (also when some videos could not be indexed: they are listed), 1 error, 2 usage.',
  async main(args) {
    const parsed = parseCommand(evalCommand, args);
    if (!parsed) return 0;
    const { values } = parsed;
    if (!values.captions) throw new UsageError('eval needs --captions <file.jsonl>');
    const by = (values.by ?? EVAL_UNITS[0]) as EvalUnit;
    if (!EVAL_UNITS.includes(by)) throw new UsageError(`--by takes ${orList(EVAL_UNITS)}, got "${values.by}"`);
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
  },
};
