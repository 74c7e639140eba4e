// The app's side of action tags: the optional API token, the upload limits, and how a label set
// is named and explained on the pages.
import crypto from 'node:crypto';
import os from 'node:os';
import { LOW_CONFIDENCE, labelSet, type LabelSet } from '@/indexer/actions';
import type { OpenEngine } from '@/indexer/engine';
import { activeLabelSet } from '@/indexer/pipeline';
import { HttpError } from '@/app/lib/http';
import { Slots } from '@/app/lib/slots';

export const DEFAULT_UPLOAD_MAX_MB = 512;
export const DEFAULT_UPLOAD_MAX_SECONDS = 600;

function positiveSetting(env: NodeJS.ProcessEnv, name: string, fallback: number, unit: string): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = /^\d{1,9}(\.\d{1,9})?$/.test(raw) ? Number(raw) : NaN;
  if (!(value > 0)) throw new HttpError(500, `${name} must be a positive number of ${unit}, got "${raw.slice(0, 40)}"`);
  return value;
}

/** VIDSEARCH_UPLOAD_MAX_MB (default 512) in bytes; decimals allowed ("0.5"). */
export function uploadLimitBytes(env: NodeJS.ProcessEnv = process.env): number {
  return Math.floor(positiveSetting(env, 'VIDSEARCH_UPLOAD_MAX_MB', DEFAULT_UPLOAD_MAX_MB, 'megabytes') * 1024 * 1024);
}

/** VIDSEARCH_UPLOAD_MAX_SECONDS (default 600): the longest clip encoded for a request. */
export function uploadLimitSeconds(env: NodeJS.ProcessEnv = process.env): number {
  return positiveSetting(env, 'VIDSEARCH_UPLOAD_MAX_SECONDS', DEFAULT_UPLOAD_MAX_SECONDS, 'seconds');
}

/**
 * Encoding an uploaded clip takes every core for as long as the clip needs: one at a time, and a
 * short line behind it; beyond that a request is turned away (503) before its body is read.
 */
export const uploadSlots = new Slots(1, 4);

/** Where uploads are written (each in its own private directory): VIDSEARCH_UPLOAD_DIR, else the OS temp dir. */
export function uploadRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.VIDSEARCH_UPLOAD_DIR?.trim() || os.tmpdir();
}

const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

/**
 * When VIDSEARCH_API_TOKEN is set, the request must carry `Authorization: Bearer <token>`.
 * Compared in constant time (hashes of equal length, so not even the length leaks).
 */
export function requireToken(req: Request, env: NodeJS.ProcessEnv = process.env): void {
  const token = env.VIDSEARCH_API_TOKEN?.trim();
  if (!token) return;
  const given = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.get('authorization') ?? '')?.[1];
  const ok = crypto.timingSafeEqual(digest(given ?? ''), digest(token)) && given !== undefined;
  if (!ok) {
    throw new HttpError(401, given === undefined ? 'this route needs a token: send Authorization: Bearer <VIDSEARCH_API_TOKEN>' : 'wrong token', {
      'WWW-Authenticate': 'Bearer realm="vidsearch"',
      // The body (maybe a large upload) is not read; the connection is not reused.
      Connection: 'close',
    });
  }
}

export interface LibraryLabels {
  /** the key tags are stored under: "kinetics400", "custom:<hash>", ... */
  key: string;
  /** for people: "Kinetics-400", "your own labels" */
  title: string;
  /** how many labels the probabilities are spread over */
  size: number;
}

const TITLES: Record<string, string> = { kinetics400: 'Kinetics-400', kinetics700: 'Kinetics-700', ucf101: 'UCF101' };

export function labelSetTitle(set: Pick<LabelSet, 'key' | 'templateSet'>): string {
  if (set.key.startsWith('custom:')) return 'your own labels';
  const [name, templates] = set.key.split('+');
  return `${TITLES[name] ?? name}${templates ? ` (${templates} templates)` : ''}`;
}

/** The library's label set, or null when tagging is off (VIDSEARCH_LABEL_SET=none and never tagged). */
export async function libraryLabels(engine: OpenEngine): Promise<LibraryLabels | null> {
  const set = await activeLabelSet(engine);
  return set ? { key: set.key, title: labelSetTitle(set), size: set.labels.length } : null;
}

/** The shipped label sets, as GET /api/actions/labels lists them; read once. */
let shipped: Array<{ name: string; labels: number; templates: number; defaultTemplates: string }> | undefined;
export function shippedLabelSets(names: readonly string[]) {
  shipped ??= names.map((name) => {
    const s = labelSet(name);
    return { name, labels: s.labels.length, templates: s.templates.length, defaultTemplates: s.templateSet };
  });
  return shipped;
}

export const isLowConfidence = (tags: Array<{ score: number }>) => (tags[0]?.score ?? 0) < LOW_CONFIDENCE;

/** The caveat every view of tags carries. */
export function relativeScoresNote(labels: LibraryLabels | null): string {
  const over = !labels ? 'the label set' : labels.key.startsWith('custom:') ? `your ${labels.size} labels` : `the ${labels.size} labels of ${labels.title}`;
  return `Scores are relative, not calibrated: each is the probability of a label among ${over}. A top label under ${Math.round(LOW_CONFIDENCE * 100)} % is marked “?” (low confidence).`;
}
