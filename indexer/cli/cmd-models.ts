// `vidsearch models list|pull`: the CLIP models, installed and downloadable.
import { UsageError } from '../core/errors';
import { MODEL_VARIANTS, type ModelVariant } from '../core/types';
import { DEFAULT_MODEL } from '../services/config';
import { CONFIG_GROUP, configFrom, json } from './options';
import { helpText, out, parseCommand, type Command } from './command';
import { DEFAULT_PULL_VARIANTS, listModels, pullModel, renderProgress } from '../../models/pull';
import { REGISTRY } from '../../models/registry';

export const models: Command = {
  name: 'models',
  summary: ['vidsearch models list|pull', 'the CLIP models'],
  usage: `Usage:
  vidsearch models list [--json]
  vidsearch models pull [name] [--variants ${DEFAULT_PULL_VARIANTS.join(',')}]`,
  about: `pull downloads a model (default ${DEFAULT_MODEL}) into models/<name>/, resuming interrupted
downloads and checking sha256. HF_ENDPOINT or VIDSEARCH_HF_ENDPOINT points it at a mirror.`,
  options: [
    {
      variants: { type: 'string', value: 'V,V', choices: MODEL_VARIANTS, check: 'list', help: 'the variants pull downloads, comma-separated', default: DEFAULT_PULL_VARIANTS.join(',') },
      ...json('the model list (list) or what was pulled (pull)'),
    },
  ],
  groups: [CONFIG_GROUP],
  async main(args) {
    const [sub, ...rest] = args;
    if (!sub || sub === '--help' || sub === '-h') return out(helpText(models)), sub ? 0 : 2;
    const parsed = parseCommand(models, rest);
    if (!parsed) return 0;
    const { values, positionals } = parsed;
    const cfg = configFrom(values);
    if (sub === 'list') {
      const list = await listModels(cfg.modelsDir);
      if (values.json) return out(JSON.stringify(list, null, 2)), 0;
      for (const m of list) out(`${m.installed ? '*' : ' '} ${m.name.padEnd(28)} ${m.installed ? `installed (${m.variants.join(', ')})` : 'not installed'}  ${m.description ?? ''}`);
      out(`(* installed, in ${cfg.modelsDir}; the model in use is ${cfg.model})`);
      return 0;
    }
    if (sub === 'pull') {
      const name = positionals[0] ?? DEFAULT_MODEL;
      if (!REGISTRY[name]) throw new UsageError(`unknown model "${name}"; known: ${Object.keys(REGISTRY).join(', ')}`);
      // each one checked against MODEL_VARIANTS by the parser (check: 'list')
      const variants = values.variants ? ((values.variants as string).split(',').map((v) => v.trim()) as ModelVariant[]) : undefined;
      const res = await pullModel({ name, modelsDir: cfg.modelsDir, variants, onProgress: renderProgress(process.stderr) });
      if (values.json) out(JSON.stringify(res, null, 2));
      else out(`model ${name} is ready in ${res.dir}`);
      return 0;
    }
    throw new UsageError(`unknown models command "${sub}": use list or pull`);
  },
};
