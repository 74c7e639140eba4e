// `vidsearch export-features`: frame and caption vectors for training the transformer pooler.
import { openEngine } from '../services/engine';
import { UsageError } from '../core/errors';
import { readCaptions } from '../services/eval';
import { exportFeatures } from '../services/features';
import { CONFIG_GROUP, INDEXING, json } from './options';
import { out, parseCommand, type Command } from './command';
import { CAPTIONS, configOf, progress } from './captions';

export const exportFeaturesCommand: Command = {
  name: 'export-features',
  summary: ['vidsearch export-features', 'frame and caption vectors for training the transformer pooler'],
  usage: 'Usage: vidsearch export-features --captions <file.jsonl> --out <dir> [--json]',
  about: `Indexes (or reuses) the captioned videos and writes their frame vectors and the text vectors of
their captions to <dir> (features.json, frames.f32, texts.f32: format in indexer/services/features.ts), for
training the transformer pooler: /usr/bin/python3 models/pooler/train.py --features <dir> ...`,
  options: [
    CAPTIONS,
    {
      out: { type: 'string', value: 'DIR', help: 'where to write the features' },
      ...json('{"out","videos","frames","captions","dim","excluded"}'),
    },
    INDEXING,
  ],
  groups: [CONFIG_GROUP],
  positionals: false,
  footer: 'Exit status: 0 written, 1 no video could be indexed or an error, 2 usage.',
  async main(args) {
    const parsed = parseCommand(exportFeaturesCommand, args);
    if (!parsed) return 0;
    const { values } = parsed;
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
  },
};
