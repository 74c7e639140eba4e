// Action labels: the vocabularies' names, template sets, tags and the pure rules over them (no file
// reading: the label files are read by services/actions.ts, scored by io/onnx/label-scorer.ts).

export const LABEL_SETS = ['kinetics400', 'kinetics700', 'ucf101'] as const;
export type LabelSetName = (typeof LABEL_SETS)[number];
export const DEFAULT_LABEL_SET: LabelSetName = 'kinetics400';
/** The prompt template sets of labels/templates.json: CLIP's for Kinetics and UCF101, ActionCLIP's 16. */
export const TEMPLATE_SETS = ['clip-kinetics', 'clip-ucf101', 'actionclip'] as const;
export type TemplateSetName = (typeof TEMPLATE_SETS)[number];

export interface LabelSet {
  /** "kinetics400", or "custom:<hash>" for a user's own list */
  key: string;
  labels: string[];
  templates: string[];
  templateSet: TemplateSetName;
}

export interface Tag {
  label: string;
  score: number;
}

/** Below this probability the top label is shown as a guess, not a finding. */
export const LOW_CONFIDENCE = 0.25;
export const MAX_CUSTOM_LABELS = 1000;
export const MAX_LABEL_CHARS = 200;

/** What a label set is made of, as stored with the library so it can be rebuilt later. */
export type LabelSetSpec = { name: LabelSetName; templateSet: TemplateSetName } | { labels: string[]; templateSet: TemplateSetName };

export function labelSetSpec(set: LabelSet): LabelSetSpec {
  return set.key.startsWith('custom:') ? { labels: set.labels, templateSet: set.templateSet } : { name: set.key.split('+')[0] as LabelSetName, templateSet: set.templateSet };
}

/** The library setting where `tag --all` records the label set it tagged with (a LabelSetSpec as JSON). */
export const LABEL_SET_SETTING = 'labelSet';

/** Which label set is the library's, before its labels are read: a stored spec, a configured name, or none. */
export type ActiveLabelSetChoice = { spec: LabelSetSpec } | { name: string } | undefined;

/**
 * The library's active label set: the one `tag --all` recorded (LABEL_SET_SETTING), else the
 * configured one (Config.labelSet); "none" configured and nothing recorded means no tagging. What
 * indexing tags new videos with, what search and the pages read tags in, what the cache keeps.
 */
export function activeLabelSetChoice(stored: string | null | undefined, configured: string): ActiveLabelSetChoice {
  if (stored) return { spec: JSON.parse(stored) as LabelSetSpec };
  return configured === 'none' ? undefined : { name: configured };
}

/** Text vectors of every (template, label) prompt: [T][L] rows of D floats, template-major. */
export interface LabelVectors {
  set: LabelSet;
  dim: number;
  /** T·L·D floats */
  data: Float32Array;
}

export function prompts(set: LabelSet): string[] {
  return set.templates.flatMap((t) => set.labels.map((l) => t.replace('{}', l)));
}

export function topLabels(labels: string[], probs: Float32Array, k = 5): Tag[] {
  return [...probs.keys()]
    .sort((a, b) => probs[b] - probs[a])
    .slice(0, k)
    .map((i) => ({ label: labels[i], score: Math.round(probs[i] * 1e6) / 1e6 }));
}

/** A tag is confident at LOW_CONFIDENCE or more; under it, a guess (shown only where marked as one). */
export function confidentTag(tag: { score: number }): boolean {
  return tag.score >= LOW_CONFIDENCE;
}

/** Whether a video's (or segment's) tags, best first, hold no confident one. */
export function lowConfidence(tags: Array<{ score: number }>): boolean {
  return !tags[0] || !confidentTag(tags[0]);
}
