// GET /api/actions/labels → the label sets a tagging request may name, and the one the library is
// tagged with (`active`, null when tagging is off). The labels themselves: /api/actions/labels/<name>.
import type { LabelSetsJson } from '@/app/lib/dto';
import { libraryLabels, shippedLabelSets } from '@/app/lib/actions';
import { getEngine } from '@/app/lib/engine';
import { handle, json } from '@/app/lib/http';
import { LABEL_SETS, TEMPLATE_SETS } from '@/indexer';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export const GET = handle(async () => {
  const active = await libraryLabels(await getEngine());
  const body: LabelSetsJson = {
    active: active?.key ?? null,
    sets: shippedLabelSets(LABEL_SETS),
    templateSets: [...TEMPLATE_SETS],
  };
  return json(body);
});
