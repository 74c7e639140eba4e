// Zero-shot action tagging, ActionCLIP-style: action recognition as video-text matching. Each label
// is written into prompt templates and encoded once per (model, label set); a video or segment
// vector is scored per template with softmax(100 · cosine) over the labels, and a label's
// probability is the mean over templates (prompt ensembling).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { markUsed, pruneLeastRecentlyUsed } from '../io/files/disk-cache';
import { UsageError } from '../core/errors';
import type { ClipModel, GraphSession } from '../io/onnx/model';
import type { VideoTags } from '../core/storage';
import { PROJECT_ROOT } from '../io/files/paths';
import { LABEL_SETS, MAX_CUSTOM_LABELS, MAX_LABEL_CHARS, prompts, topLabels, type LabelSet, type LabelSetName, type LabelSetSpec, type LabelVectors, type TemplateSetName } from '../core/labels';
import { labelProbabilities, loadLabelScorer } from '../io/onnx/label-scorer';

export * from '../core/labels';
export { labelProbabilities, loadLabelScorer } from '../io/onnx/label-scorer';

const LABELS_DIR = path.join(PROJECT_ROOT, 'indexer', 'labels');

function readTemplates(): Record<TemplateSetName, string[]> {
  return JSON.parse(fs.readFileSync(path.join(LABELS_DIR, 'templates.json'), 'utf8'));
}

// CLIP's own zero-shot templates for the dataset: what the encoder was evaluated with. ActionCLIP's
// 16 were written for its fine-tuned encoders and are available with --templates actionclip.
const DEFAULT_TEMPLATES: Record<LabelSetName, TemplateSetName> = { kinetics400: 'clip-kinetics', kinetics700: 'clip-kinetics', ucf101: 'clip-ucf101' };

export function labelSet(name: string, templateSet?: TemplateSetName): LabelSet {
  if (!(LABEL_SETS as readonly string[]).includes(name)) {
    throw new UsageError(`unknown label set "${name}"; choose ${LABEL_SETS.join(', ')}, or give --labels / --labels-file`, { cause: { field: 'labelSet', value: name } });
  }
  const labels = fs.readFileSync(path.join(LABELS_DIR, `${name}.txt`), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  const ts = templateSet ?? DEFAULT_TEMPLATES[name as LabelSetName];
  return { key: ts === DEFAULT_TEMPLATES[name as LabelSetName] ? name : `${name}+${ts}`, labels, templates: readTemplates()[ts], templateSet: ts };
}

/** A user's own labels: deduplicated, trimmed, with CLIP's video-action templates. */
export function customLabelSet(labels: string[], templateSet: TemplateSetName = 'clip-kinetics'): LabelSet {
  const clean = [...new Set(labels.map((l) => l.trim()).filter(Boolean))];
  if (clean.length < 2) throw new UsageError('give at least two labels: probabilities are relative to the other labels', { cause: { field: 'labels' } });
  if (clean.length > MAX_CUSTOM_LABELS) throw new UsageError(`at most ${MAX_CUSTOM_LABELS} labels, got ${clean.length}`, { cause: { field: 'labels' } });
  const long = clean.find((l) => l.length > MAX_LABEL_CHARS);
  if (long) throw new UsageError(`label too long (${long.length} characters, at most ${MAX_LABEL_CHARS})`, { cause: { field: 'labels' } });
  const hash = crypto.createHash('sha256').update(JSON.stringify([clean, templateSet])).digest('hex').slice(0, 16);
  return { key: `custom:${hash}`, labels: clean, templates: readTemplates()[templateSet], templateSet };
}

export function labelSetFromSpec(spec: LabelSetSpec): LabelSet {
  return 'labels' in spec ? customLabelSet(spec.labels, spec.templateSet) : labelSet(spec.name, spec.templateSet);
}

export function readLabelsFile(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read labels file ${file}: ${(err as Error).message}`, { cause: { file } });
  }
  return text.split(/\r?\n/).map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
}

const LABEL_CACHE_EXT = '.f32';

/** The cache file of a label set's vectors: one per (model identity, label set). */
export function labelCacheFile(model: Pick<ClipModel, 'identity'>, setKey: string, cacheDir: string): string {
  const modelKey = crypto.createHash('sha256').update(JSON.stringify(model.identity)).digest('hex').slice(0, 16);
  return path.join(cacheDir, `${setKey.replace(/[^a-z0-9+_-]/gi, '_')}-${modelKey}${LABEL_CACHE_EXT}`);
}

/**
 * Encodes the prompts, or reads them from the disk cache (labelCacheFile), so a vocabulary of 700
 * labels × 28 templates is encoded once, not per video. `written` says the file is new.
 */
export async function labelVectors(model: ClipModel, set: LabelSet, cacheDir: string, batch = 64): Promise<LabelVectors & { written: boolean }> {
  const file = labelCacheFile(model, set.key, cacheDir);
  const count = set.templates.length * set.labels.length * model.dim;
  try {
    const buf = fs.readFileSync(file);
    if (buf.byteLength === count * 4) {
      // A hit is a use: the cache's budget removes the least recently used first.
      await markUsed(file);
      return { set, dim: model.dim, data: new Float32Array(buf.buffer, buf.byteOffset, count).slice(), written: false };
    }
  } catch {
    // not cached yet
  }
  const all = prompts(set);
  const data = new Float32Array(count);
  for (let i = 0; i < all.length; i += batch) {
    const vecs = await model.encodeTexts(all.slice(i, i + batch));
    vecs.forEach((v, j) => data.set(v, (i + j) * model.dim));
  }
  const tmp = `${file}.${process.pid}.tmp`;
  let written = true;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(tmp, Buffer.from(data.buffer));
    fs.renameSync(tmp, file);
  } catch {
    // Only a cache (a full disk, a read-only cache folder): the vectors are recomputed next time.
    fs.rmSync(tmp, { force: true });
    written = false;
  }
  return { set, dim: model.dim, data, written };
}

const MAX_CUSTOM_SETS_IN_MEMORY = 8;

/** The disk budget of the label-vector cache (<cacheDir>/labels). */
export interface LabelCacheBudget {
  maxBytes: number;
  /** the key of the library's own label set, whose file is never removed (it tags every new video) */
  pinned: () => Promise<string | undefined>;
}

/** Label vectors per label set, loaded once per process, and the tagging of pooled vectors. */
export class ActionTagger {
  private readonly loaded = new Map<string, Promise<LabelVectors>>();
  private scorer: Promise<GraphSession> | undefined;
  private pruning: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly model: ClipModel,
    private readonly cacheDir: string,
    /** ONNX Runtime threads for the scoring */
    private readonly threads = 1,
    /** none: the cache grows without limit */
    private readonly budget?: LabelCacheBudget,
  ) {}

  vectors(set: LabelSet): Promise<LabelVectors> {
    let lv = this.loaded.get(set.key);
    // A use of the file too, so the sets in use here are not the ones the disk budget removes.
    if (lv && this.budget) void markUsed(labelCacheFile(this.model, set.key, this.labelsDir));
    if (!lv) {
      lv = labelVectors(this.model, set, this.labelsDir).then(async (res) => {
        // After each new file, not on a timer: a new file follows an encode of every prompt,
        // which costs far more than listing the folder. Awaited, so a caller sees the cache
        // within its budget; failing to prune never fails the tagging.
        if (res.written) await this.prune(res.set.key).catch(() => {});
        return res;
      });
      // A failed encode is not remembered, so the next call tries again.
      lv.catch(() => this.loaded.delete(set.key));
    }
    // Most recently used last. Custom lists come from API callers and may each hold up to 1000 ×
    // 28 × D floats: only the few most recent stay in memory (the disk cache keeps the rest).
    this.loaded.delete(set.key);
    this.loaded.set(set.key, lv);
    const custom = [...this.loaded.keys()].filter((key) => key.startsWith('custom:'));
    for (const key of custom.slice(0, Math.max(0, custom.length - MAX_CUSTOM_SETS_IN_MEMORY))) this.loaded.delete(key);
    return lv;
  }

  private get labelsDir(): string {
    return path.join(this.cacheDir, 'labels');
  }

  /**
   * Keeps the label cache within its budget, least recently used first. Never removed: the
   * library's label set and `fresh` (just encoded; removing it would waste that encode).
   */
  private prune(fresh: string): Promise<unknown> {
    const budget = this.budget;
    if (!budget) return Promise.resolve();
    // One at a time: two prunes at once would both count files the other is removing.
    this.pruning = this.pruning.catch(() => {}).then(async () => {
      const pinned = await budget.pinned().catch(() => undefined);
      const keep = new Set([fresh, pinned].filter((k) => k !== undefined).map((k) => path.basename(labelCacheFile(this.model, k, this.labelsDir))));
      await pruneLeastRecentlyUsed(this.labelsDir, budget.maxBytes, { match: (name) => name.endsWith(LABEL_CACHE_EXT), keep: (name) => keep.has(name) });
    });
    return this.pruning;
  }

  /** Top-k labels of the whole video (segmentIdx -1) and of each segment. */
  async tag(set: LabelSet, video: Float32Array, segments: Array<{ idx: number; vector: Float32Array }>, k = 5): Promise<VideoTags> {
    const lv = await this.vectors(set);
    this.scorer ??= loadLabelScorer(this.threads).catch((err) => {
      this.scorer = undefined;
      throw err;
    });
    const probs = await labelProbabilities(await this.scorer, lv, [video, ...segments.map((s) => s.vector)]);
    return {
      labelSet: set.key,
      entries: [{ segmentIdx: -1, tags: topLabels(set.labels, probs[0], k) }, ...segments.map((s, i) => ({ segmentIdx: s.idx, tags: topLabels(set.labels, probs[i + 1], k) }))],
    };
  }

  async close(): Promise<void> {
    const scorer = this.scorer;
    this.scorer = undefined;
    await (await scorer?.catch(() => undefined))?.release();
  }
}
