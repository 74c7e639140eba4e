// Row layouts both database backends share (sqlite/, postgres/): the same tables, the same columns.
import type { TagRecord, VideoTags } from '../../core/storage';

/** A video's tags as Tag rows: one per label, ranked from 0 within its segment (-1: the whole video). */
export function tagRows(videoId: number, tags: VideoTags) {
  return tags.entries.flatMap((e) => e.tags.map((t, rank) => ({ videoId, segmentIdx: e.segmentIdx, labelSet: tags.labelSet, rank, label: t.label, score: t.score })));
}

/** Tag rows (in video, segment, rank order) as videoId → segmentIdx → ranked tags. */
export function groupTags(rows: Iterable<{ videoId: number; segmentIdx: number; label: string; score: number }>): Map<number, Map<number, TagRecord[]>> {
  const out = new Map<number, Map<number, TagRecord[]>>();
  for (const r of rows) {
    const perVideo = out.get(r.videoId) ?? new Map<number, TagRecord[]>();
    const list = perVideo.get(r.segmentIdx) ?? [];
    list.push({ label: r.label, score: r.score });
    perVideo.set(r.segmentIdx, list);
    out.set(r.videoId, perVideo);
  }
  return out;
}
