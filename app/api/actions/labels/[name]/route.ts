// GET /api/actions/labels/:name → one label set's labels and prompt templates; `active` is the
// library's own set (which may be a custom list).
import type { LabelSetJson } from '@/app/lib/dto';
import { labelSetTitle } from '@/app/lib/actions';
import { getEngine } from '@/app/lib/engine';
import { handle, json, notFound } from '@/app/lib/http';
import { LABEL_SETS, labelSet, type LabelSet, activeLabelSet } from '@/indexer';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export const GET = handle(async (_req, ctx: { params: Promise<{ name: string }> }) => {
  const { name } = await ctx.params;
  let set: LabelSet | undefined;
  if (name === 'active') set = (await activeLabelSet(await getEngine())) ?? notFound('tagging is off (VIDSEARCH_LABEL_SET=none): the library has no label set');
  else if ((LABEL_SETS as readonly string[]).includes(name)) set = labelSet(name);
  else notFound(`no label set "${name.slice(0, 40)}": choose ${LABEL_SETS.join(', ')} or active`);
  const body: LabelSetJson = { key: set.key, title: labelSetTitle(set), templateSet: set.templateSet, templates: set.templates, labels: set.labels };
  return json(body, { headers: name === 'active' ? {} : { 'Cache-Control': 'public, max-age=3600' } });
});
