// GET /api/model → where the search model stands: ready, downloading (bytes, %, speed, ETA),
// offline (the files to place by hand and where), failed or missing. The search page polls it
// while the server downloads the model. Behind the sign-in like every route but health.
import type { ModelJson } from '@/app/lib/dto';
import { modelStatus } from '@/app/lib/engine';
import { handle, json } from '@/app/lib/http';

export const dynamic = 'force-dynamic';
export const runtime = 'nodejs';

export const GET = handle(async () => json(modelStatus() satisfies ModelJson));
