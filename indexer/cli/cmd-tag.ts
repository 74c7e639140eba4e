// `vidsearch tag`: zero-shot action labels of a video, or of the whole library (--all).
import fs from 'node:fs';
import { openEngine } from '../services/engine';
import { UsageError } from '../core/errors';
import { DEFAULT_LABEL_SET, LABEL_SETS, LOW_CONFIDENCE, TEMPLATE_SETS, type TemplateSetName } from '../core/labels';
import { chooseLabelSet, retagAll, tagFile, tagVideo } from '../services/tagging';
import { CONFIG_GROUP, configFrom, json } from './options';
import { clock, out, parseCommand, type Command } from './command';

const MAX_K = 50;

export const tag: Command = {
  name: 'tag',
  summary: ['vidsearch tag <file|videoId>', 'what happens in a video (zero-shot action labels)'],
  usage: `Usage:
  vidsearch tag <file|videoId> [--labels a,b,c | --label-set S | --labels-file F] [--k 5] [--json]
  vidsearch tag --all [--label-set S | --labels a,b,c | --labels-file F]`,
  about: `Zero-shot action labels (ActionCLIP-style prompt ensembling over CLIP): each label is written into
prompt templates and matched against the video's pooled vector; scores are probabilities over the
label set (relative, not calibrated; a top label under ${LOW_CONFIDENCE} is marked low confidence).
An indexed video is tagged from its stored vectors; a file that is not indexed is encoded on the
fly and not added. --all re-tags the whole library for a label set (no decoding) and makes it the
set new videos are tagged with.`,
  options: [
    {
      all: { type: 'boolean', help: 're-tag the whole library with the label set, and tag new videos with it' },
      'label-set': { type: 'string', value: 'S', choices: LABEL_SETS, help: '', default: `the library's set, else ${DEFAULT_LABEL_SET}` },
      labels: { type: 'string', value: 'a,b,c', help: 'your own labels' },
      'labels-file': { type: 'string', value: 'F', help: 'one label per line' },
      templates: { type: 'string', value: 'T', choices: TEMPLATE_SETS, check: 'one', help: '', default: "CLIP's for the label set" },
      k: { type: 'string', value: 'N', help: 'labels per video and per segment', range: `1-${MAX_K}`, default: '5' },
      ...json('{"videoId","path","labels","segments"}'),
    },
  ],
  groups: [CONFIG_GROUP],
  async main(args) {
    const parsed = parseCommand(tag, args);
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    if (!values.all && positionals.length !== 1) throw new UsageError('tag takes one file or video id (or --all)');
    if (values.all && positionals.length) throw new UsageError('tag --all takes no file');
    const k = values.k === undefined ? 5 : Number(values.k);
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new UsageError(`--k must be an integer from 1 to ${MAX_K}, got "${values.k}"`);
    const choice = {
      labels: values.labels === undefined ? undefined : (values.labels as string).split(','),
      labelSet: values['label-set'] as string | undefined,
      labelsFile: values['labels-file'] as string | undefined,
      templates: values.templates as TemplateSetName | undefined,
    };
    const engine = await openEngine(configFrom(values), { writer: !!values.all });
    try {
      const set = await chooseLabelSet(engine, choice);
      if (values.all) {
        const res = await retagAll(engine, set, (done, total) => process.stderr.isTTY && process.stderr.write(`\r\x1b[2Ktagging ${done}/${total}`));
        if (process.stderr.isTTY) process.stderr.write('\n');
        if (values.json) out(JSON.stringify(res, null, 2));
        else out(`tagged ${res.videos} videos with ${res.labelSet}; new videos will be tagged with it too`);
        return 0;
      }
      const target = positionals[0];
      const tagged = /^\d+$/.test(target) && !fs.existsSync(target) ? await tagVideo(engine, Number(target), set, k) : await tagFile(engine, target, set, k);
      if (!tagged) throw new UsageError(`no indexed video with id ${target}`);
      if (values.json) {
        out(JSON.stringify(tagged, null, 2));
        return 0;
      }
      const fmt = (tags: { label: string; score: number }[], low: boolean) => tags.map((t) => `${t.label} ${(t.score * 100).toFixed(1)}%`).join(', ') + (low ? '  (low confidence)' : '');
      out(`${tagged.path}${tagged.videoId !== undefined ? ` (video ${tagged.videoId})` : ' (not indexed)'}`);
      out(`  ${fmt(tagged.labels, tagged.lowConfidence)}`);
      for (const seg of tagged.segments) out(`  ${clock(seg.start)}-${clock(seg.end)}  ${fmt(seg.labels.slice(0, 3), seg.lowConfidence)}`);
      return 0;
    } finally {
      await engine.close();
    }
  },
};
