// Action tagging as a service for the CLI and the API: pick a label set, tag an indexed video from
// its stored vectors, tag a file that is not indexed by encoding it on the fly (without adding it),
// and re-tag the whole library for another vocabulary without decoding anything.
import fs from 'node:fs';
import path from 'node:path';
import { LABEL_SET_SETTING, customLabelSet, labelSet, labelSetFromSpec, labelSetSpec, lowConfidence, readLabelsFile, type LabelSet, type Tag, type TemplateSetName } from './actions';
import { UsageError } from '../core/errors';
import { fileStamp } from '../io/files/files';
import { sameStamp } from '../core/stamps';
import { activeLabelSet, encodeVideo, type Engine } from './pipeline';
import { segmentVideo } from '../core/pooling';
import type { VideoTags } from '../core/storage';

export interface TagResult {
  videoId?: number;
  path: string;
  labelSet: string;
  lowConfidence: boolean;
  labels: Tag[];
  segments: Array<{ start: number; end: number; labels: Tag[]; lowConfidence: boolean }>;
}

export interface LabelChoice {
  labels?: string[];
  labelSet?: string;
  labelsFile?: string;
  templates?: TemplateSetName;
}

/**
 * At most one source of labels; none means the library's active label set. `templates` applies
 * to whichever it is: with no other choice, the library's labels written into those templates
 * (scored from the stored vectors, not read from the stored tags, which used the library's own).
 */
export async function chooseLabelSet(engine: Engine, choice: LabelChoice): Promise<LabelSet> {
  const given = [choice.labels, choice.labelSet, choice.labelsFile].filter((x) => x !== undefined).length;
  if (given > 1) throw new UsageError('give only one of labels, labelSet, labelsFile', { cause: { field: 'labels' } });
  if (choice.labels) return customLabelSet(choice.labels, choice.templates);
  if (choice.labelsFile) return customLabelSet(readLabelsFile(choice.labelsFile), choice.templates);
  if (choice.labelSet) return labelSet(choice.labelSet, choice.templates);
  const active = (await activeLabelSet(engine)) ?? labelSet('kinetics400');
  return choice.templates ? labelSetFromSpec({ ...labelSetSpec(active), templateSet: choice.templates }) : active;
}

function result(set: LabelSet, tags: Awaited<ReturnType<Engine['tagger']['tag']>>, segments: Array<{ idx: number; start: number; end: number }>, file: string, videoId?: number): TagResult {
  const byIdx = new Map(tags.entries.map((e) => [e.segmentIdx, e.tags]));
  const labels = byIdx.get(-1) ?? [];
  return {
    ...(videoId !== undefined ? { videoId } : {}),
    path: file,
    labelSet: set.key,
    lowConfidence: lowConfidence(labels),
    labels,
    segments: segments.map((s) => {
      const l = byIdx.get(s.idx) ?? [];
      return { start: s.start, end: s.end, labels: l, lowConfidence: lowConfidence(l) };
    }),
  };
}

/** Tags an indexed video from its stored vectors (no decoding). Undefined for an unknown id. */
export async function tagVideo(engine: Engine, videoId: number, set: LabelSet, k = 5): Promise<TagResult | undefined> {
  const video = await engine.store.video(videoId);
  if (!video || video.status !== 'indexed') return undefined;
  const [vector, segments] = await Promise.all([engine.store.videoVector(videoId), engine.store.videoSegments(videoId)]);
  if (!vector) return undefined;
  const tags = await engine.tagger.tag(set, vector, segments, k);
  return result(set, tags, segments, video.path, videoId);
}

/**
 * tagVideo's answer read from the tags stored at index time (top 5 of the video and of each
 * segment), when they can give it: `set` is the library's label set (the only one kept current
 * when vectors change) and every entry holds min(k, labels) tags. Undefined otherwise; the caller
 * then scores with tagVideo. With a real model, scoring one vector against 400 labels × 28
 * templates of 512-d costs tens of ms, so a video of a few minutes is far cheaper read than scored.
 */
export async function storedVideoTags(engine: Engine, videoId: number, set: LabelSet, k = 5): Promise<TagResult | undefined> {
  const active = await activeLabelSet(engine);
  if (active?.key !== set.key) return undefined;
  const video = await engine.store.video(videoId);
  if (!video || video.status !== 'indexed') return undefined;
  const [segments, stored] = await Promise.all([engine.store.videoSegments(videoId), engine.store.tags([videoId], set.key)]);
  const rows = stored.get(videoId);
  const want = Math.min(k, set.labels.length);
  const entries: VideoTags['entries'] = [];
  for (const idx of [-1, ...segments.map((s) => s.idx)]) {
    const tags = rows?.get(idx);
    if (!tags || tags.length < want) return undefined;
    entries.push({ segmentIdx: idx, tags: tags.slice(0, want) });
  }
  return result(set, { labelSet: set.key, entries }, segments, video.path, videoId);
}

/** Tags a file: from the index when it is indexed and unchanged, else by encoding it now. */
export async function tagFile(engine: Engine, file: string, set: LabelSet, k = 5, signal?: AbortSignal): Promise<TagResult> {
  const abs = path.resolve(file);
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new UsageError(`no such file: ${abs}`, { cause: { file: abs } });
  const known = await engine.store.videoByPath(abs);
  const stamp = fileStamp(st);
  if (known?.status === 'indexed' && sameStamp(known, stamp)) {
    const tagged = await tagVideo(engine, known.id, set, k);
    if (tagged) return tagged;
  }
  const { probe, vectors } = await encodeVideo(engine, abs, signal, () => {});
  if (vectors.length === 0) throw new UsageError(`no frames could be decoded from ${abs}`, { cause: { file: abs } });
  const { segments, video } = await segmentVideo(vectors, probe.duration, engine.cfg, engine.pooling);
  const tags = await engine.tagger.tag(set, video, segments, k);
  return result(set, tags, segments, abs);
}

/** Re-tags every indexed video for `set` from stored vectors and makes it the library's label set. */
export async function retagAll(engine: Engine, set: LabelSet, onProgress?: (done: number, total: number) => void): Promise<{ labelSet: string; videos: number }> {
  const videos = await engine.store.videos({ status: 'indexed' });
  await engine.tagger.vectors(set);
  for (const [i, v] of videos.entries()) {
    const [vector, segments] = await Promise.all([engine.store.videoVector(v.id), engine.store.videoSegments(v.id)]);
    if (!vector) continue;
    await engine.store.replaceTags(v.id, await engine.tagger.tag(set, vector, segments));
    onProgress?.(i + 1, videos.length);
  }
  await engine.store.setSetting(LABEL_SET_SETTING, JSON.stringify(labelSetSpec(set)));
  return { labelSet: set.key, videos: videos.length };
}
