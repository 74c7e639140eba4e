// The tag repository on SQLite: a video's ranked labels per label set (action tags), read by id on
// the Prisma-free reader connection for search results, written and grouped through Prisma.
import type { TagRecord, TagRepository, VideoTags } from '../../../core/storage';
import { tagRows, type SqliteConnection } from './connection';
import { groupTags } from '../rows';

export class SqliteTags implements TagRepository {
  constructor(private readonly c: SqliteConnection) {}

  async replace(videoId: number, tags: VideoTags): Promise<void> {
    const db = this.c.db;
    await db.$transaction([db.tag.deleteMany({ where: { videoId, labelSet: tags.labelSet } }), db.tag.createMany({ data: tagRows(videoId, tags) })]);
  }

  async of(videoIds: number[], labelSet: string): Promise<Map<number, Map<number, TagRecord[]>>> {
    const rows = this.c
      .readById(
        'SELECT "videoId", "segmentIdx", "label", "score" FROM "Tag" WHERE "labelSet" = ? AND "videoId" IN (SELECT value FROM json_each(?)) ORDER BY "videoId", "segmentIdx", "rank"',
        videoIds,
        [labelSet],
      )
      .map(([videoId, segmentIdx, label, score]) => ({ videoId, segmentIdx, label, score }) as { videoId: number; segmentIdx: number; label: string; score: number });
    return groupTags(rows);
  }

  async tagged(labelSet: string, label: string, minScore: number): Promise<Array<{ videoId: number; segmentIdx: number; score: number }>> {
    return this.c.db.tag.findMany({
      where: { labelSet, label, OR: [{ rank: 0 }, { score: { gte: minScore } }] },
      select: { videoId: true, segmentIdx: true, score: true },
    });
  }

  async labelCounts(labelSet: string): Promise<Array<{ label: string; videos: number }>> {
    const groups = await this.c.db.tag.groupBy({ by: ['label'], where: { labelSet, segmentIdx: -1, rank: 0 }, _count: { _all: true } });
    return groups.map((g) => ({ label: g.label, videos: g._count._all })).sort((a, b) => b.videos - a.videos || a.label.localeCompare(b.label));
  }
}
