// Row layouts both database backends share (sqlite/, postgres/): the same tables, the same columns.
import type { VideoTags } from '../../core/storage';

/** A video's tags as Tag rows: one per label, ranked from 0 within its segment (-1: the whole video). */
export function tagRows(videoId: number, tags: VideoTags) {
  return tags.entries.flatMap((e) => e.tags.map((t, rank) => ({ videoId, segmentIdx: e.segmentIdx, labelSet: tags.labelSet, rank, label: t.label, score: t.score })));
}
