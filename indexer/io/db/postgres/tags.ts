// The tag repository on PostgreSQL (the SQLite one: sqlite/tags.ts): a video's ranked labels per
// label set, replaced in one transaction, read by id for search results, grouped for browsing.
import type { TagRecord, TagRepository, VideoTags } from '../../../core/storage';
import type { PgConnection } from './connection';
import { insertTags } from './videos';
import { groupTags } from '../rows';

export class PgTags implements TagRepository {
  constructor(private readonly c: PgConnection) {}

  async replace(videoId: number, tags: VideoTags): Promise<void> {
    await this.c.transaction(async (tx) => {
      await tx.query('DELETE FROM "Tag" WHERE "videoId" = $1 AND "labelSet" = $2', [videoId, tags.labelSet]);
      await insertTags(tx, videoId, tags);
    });
  }

  async of(videoIds: number[], labelSet: string): Promise<Map<number, Map<number, TagRecord[]>>> {
    if (!videoIds.length) return new Map();
    const rows = (
      await this.c.query<{ videoId: number; segmentIdx: number; label: string; score: number }>(
        'SELECT "videoId", "segmentIdx", "label", "score" FROM "Tag" WHERE "labelSet" = $1 AND "videoId" = ANY($2::int[]) ORDER BY "videoId", "segmentIdx", "rank"',
        [labelSet, videoIds],
      )
    ).rows;
    return groupTags(rows);
  }

  async tagged(labelSet: string, label: string, minScore: number): Promise<Array<{ videoId: number; segmentIdx: number; score: number }>> {
    return (
      await this.c.query<{ videoId: number; segmentIdx: number; score: number }>(
        'SELECT "videoId", "segmentIdx", "score" FROM "Tag" WHERE "labelSet" = $1 AND "label" = $2 AND ("rank" = 0 OR "score" >= $3)',
        [labelSet, label, minScore],
      )
    ).rows;
  }

  async labelCounts(labelSet: string): Promise<Array<{ label: string; videos: number }>> {
    const rows = (await this.c.query<{ label: string; n: string }>(`SELECT "label", count(*) AS n FROM "Tag" WHERE "labelSet" = $1 AND "segmentIdx" = -1 AND "rank" = 0 GROUP BY "label"`, [labelSet])).rows;
    return rows.map((g) => ({ label: g.label, videos: Number(g.n) })).sort((a, b) => b.videos - a.videos || a.label.localeCompare(b.label));
  }
}
