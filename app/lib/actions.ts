// The app's side of action tags: the optional API token, the upload limits (size, length, the
// encoder's line, temporary disk), and how a label set is named and explained on the pages.
import crypto from 'node:crypto';
import { LOW_CONFIDENCE, labelSet, lowConfidence, type LabelSet, type LabelSetName, processConfig, processServerConfig, type Config, type OpenEngine, activeLabelSet } from '@/indexer';
import { HttpError } from '@/app/lib/http';
import { Slots } from '@/app/lib/slots';

export interface UploadLimits {
  /** the largest clip (VIDSEARCH_UPLOAD_MAX_MB) */
  maxBytes: number;
  /** the longest clip encoded (VIDSEARCH_UPLOAD_MAX_SECONDS) */
  maxSeconds: number;
  /** temporary disk for all uploads in flight together (VIDSEARCH_UPLOAD_BUDGET_MB) */
  budgetBytes: number;
}

/**
 * The upload settings of indexer/services/config.ts, as the server resolved them at start-up
 * (scripts/server.ts refuses to start with a bad one). Should the process's configuration still be
 * unresolved and bad (a handler called without the server), that is the server's fault: 500.
 */
export function uploadLimits(): UploadLimits {
  let cfg: Config;
  try {
    cfg = processConfig();
  } catch (err) {
    throw new HttpError(500, (err as Error).message);
  }
  const bytes = (mb: number) => Math.floor(mb * 1024 * 1024);
  return { maxBytes: bytes(cfg.uploadMaxMb), maxSeconds: cfg.uploadMaxSeconds, budgetBytes: bytes(cfg.uploadBudgetMb) };
}

/**
 * Encoding an uploaded clip takes every core for as long as the clip needs: one at a time, and a
 * short line behind it. An upload takes its place in line before its body is read (see
 * Slots.reserve), so beyond the line it is turned away (503) unread.
 */
export const uploadSlots = new Slots(1, 4);

/** One request's share of the upload space, held until its temporary directory is gone. */
export interface SpaceClaim {
  /** Makes the claim at least `bytes` (the file as written so far); HttpError when there is no room. */
  grow(bytes: number): void;
  release(): void;
}

const inMb = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 100) / 100} MB`;

/**
 * The temporary disk that uploads in flight take together. A declared Content-Length is claimed
 * in full before the body is read; a body without one claims its bytes as they are written. Over
 * the budget: 413 when the one upload could never fit, 503 when it fits once others are done.
 */
export class UploadSpace {
  private held = 0;

  get inUse(): number {
    return this.held;
  }

  claim(bytes: number, budget: number): SpaceClaim {
    let mine = 0;
    let released = false;
    const grow = (want: number) => {
      if (released || want <= mine) return;
      if (want > budget) {
        throw new HttpError(413, `the upload is too large for the temporary space uploads may take (${inMb(budget)}, VIDSEARCH_UPLOAD_BUDGET_MB)`, { Connection: 'close' });
      }
      if (this.held - mine + want > budget) {
        throw new HttpError(503, `the temporary space for uploads (${inMb(budget)}, VIDSEARCH_UPLOAD_BUDGET_MB) is taken by other uploads: try again shortly`, {
          'Retry-After': '10',
          Connection: 'close',
        });
      }
      this.held += want - mine;
      mine = want;
    };
    grow(bytes);
    return {
      grow,
      release: () => {
        if (released) return;
        released = true;
        this.held -= mine;
        mine = 0;
      },
    };
  }
}

export const uploadSpace = new UploadSpace();

/** Where uploads are written (each in its own private directory): Config.uploadDir (VIDSEARCH_UPLOAD_DIR, else the OS temp dir). */
export function uploadRoot(): string {
  return processConfig().uploadDir;
}

const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

/**
 * When VIDSEARCH_API_TOKEN is set, the request must carry `Authorization: Bearer <token>`.
 * Compared in constant time (hashes of equal length, so not even the length leaks).
 */
export function requireToken(req: Request): void {
  let token: string | undefined;
  try {
    token = processServerConfig().apiToken;
  } catch (err) {
    throw new HttpError(500, (err as Error).message);
  }
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

const TITLES: Record<string, string> = { kinetics400: 'Kinetics-400', kinetics700: 'Kinetics-700', ucf101: 'UCF101' } satisfies Record<LabelSetName, string>;

export function labelSetTitle(set: Pick<LabelSet, 'key' | 'templateSet'>): string {
  if (set.key.startsWith('custom:')) return 'your own labels';
  const [name, templates] = set.key.split('+');
  return `${TITLES[name] ?? name}${templates ? ` (${templates} templates)` : ''}`;
}

/** The library's label set, or null when tagging is off (VIDSEARCH_LABEL_SET=none and never tagged). */
export async function libraryLabels(engine: Pick<OpenEngine, 'store' | 'cfg'>): Promise<LibraryLabels | null> {
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

export { confidentTag } from '@/indexer';

/** The caveat every view of tags carries. */
export function relativeScoresNote(labels: LibraryLabels | null): string {
  const over = !labels ? 'the label set' : labels.key.startsWith('custom:') ? `your ${labels.size} labels` : `the ${labels.size} labels of ${labels.title}`;
  return `Scores are relative, not calibrated: each is the probability of a label among ${over}. A label under ${Math.round(LOW_CONFIDENCE * 100)} % is marked “?” (low confidence) and left off result cards.`;
}
